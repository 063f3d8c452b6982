"""The hub pack with the network gone: the models are in the local Hugging Face cache (a stand-in of the five hub
repos: real configs and vocabularies, random weights at the real size, tests/hub_standin.py), HF_HUB_OFFLINE is NOT
set, and every request to the outside goes to a proxy on 127.0.0.1 that accepts and never answers: a classroom
whose Wi-Fi dropped, in its worst form. Nothing leaves this machine.

What must hold: no page waits on a socket (the proxy sees at most the one probe, which has a timeout), every page
shows the real architectures' shapes and clean tokens, a repo missing its weights falls back with one notice, and
the page times are printed beside the same walk with HF_HUB_OFFLINE=1 (the ratio is reported, not asserted: CI
shares its cores).
"""
from __future__ import annotations

import os
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import streamlit as st
from huggingface_hub import constants as hf_constants
from huggingface_hub.utils import _http
from streamlit.testing.v1 import AppTest

from components.service import models
from core.classroom.page_table import PAGE_TABLE
from core.inputs import images, text_limits
from core.models import registry
from tests.browser import test_browser as browser_helpers
from tests.conftest import ROOT
from tests.hub_standin import VQA_ANSWERS, hub_standin, partial_cache  # noqa: F401 - hub_standin is a fixture

PAGES = tuple(spec.script for spec in PAGE_TABLE)


class SilentProxy:
    """A listener on 127.0.0.1 that accepts every connection and never answers; it keeps each one's first line
    (a proxy request: "CONNECT huggingface.co:443 HTTP/1.1"), to say who asked."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn = self.listener.accept()[0]
            except OSError:
                continue
            self.connections.append(conn)
            conn.settimeout(2)
            try:
                self.requests.append(conn.recv(200).split(b"\r\n")[0].decode(errors="replace"))
            except OSError:
                self.requests.append("(nothing sent)")

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self.connections:
            conn.close()
        self.listener.close()


@pytest.fixture
def silent_proxy():
    proxy = SilentProxy()
    yield proxy
    proxy.close()


def network_gone(monkeypatch, cache: Path, proxy: SilentProxy) -> None:
    """This process as a server on a dead network: HF_HUB_OFFLINE unset, every request through the silent proxy."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", registry.PACK_ENV):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(registry, "HUB_ACCESS", registry.new_hub_access())
    _http.close_session()  # the hub library's client reads the proxy settings when it is made
    # urllib's global opener (the probe's) reads the proxy settings once, when the first urlopen builds it: start
    # from none, and leave none behind, so no later test inherits this silent proxy
    monkeypatch.setattr(urllib.request, "_opener", None)


def offline_by_setting(monkeypatch, cache: Path) -> None:
    """The baseline: the same cache, HF_HUB_OFFLINE=1 (the hub library never tries the network)."""
    monkeypatch.delenv(registry.PACK_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(registry, "HUB_ACCESS", registry.new_hub_access())


def fresh_process_state() -> None:
    """As a new server process: no model, result, pack choice or tokenizer cached."""
    st.cache_data.clear()
    st.cache_resource.clear()  # the model budget and the pack choice included
    models._HUB_FAILURES.clear()
    text_limits._tokenizer.cache_clear()
    text_limits.prepare.cache_clear()


def walk(pages=PAGES) -> tuple[AppTest, dict[str, float]]:
    """Home, then every page, as one student; seconds per step."""
    times = {}
    start = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    times["home"] = time.perf_counter() - start
    assert not at.exception, [e.value for e in at.exception]
    for page in pages:
        start = time.perf_counter()
        at.switch_page(page).run()
        times[page] = time.perf_counter() - start
        assert not at.exception, (page, [e.value for e in at.exception])
        # every model is on disk: no page replaces one (the notice names what it replaced and why)
        assert not [w.value for w in at.warning if "cannot be used" in w.value], page
    return at, times


@pytest.fixture
def clean_state():
    fresh_process_state()
    yield
    fresh_process_state()  # later tests get the bundled pack and a small process again
    _http.close_session()


def test_every_page_on_the_cached_hub_pack_with_the_network_gone(hub_standin, silent_proxy, monkeypatch,
                                                                  clean_state):
    offline_by_setting(monkeypatch, hub_standin)
    _, baseline = walk()

    fresh_process_state()
    network_gone(monkeypatch, hub_standin, silent_proxy)
    at, times = walk()
    print("\nhub pack from the local cache: seconds per page, network gone vs HF_HUB_OFFLINE=1")
    for step in times:
        print(f"  {step:28s} {times[step]:6.1f} s vs {baseline[step]:6.1f} s  ratio {times[step] / baseline[step]:.2f}")
    print(f"  proxy connections: {silent_proxy.requests} (the background probe at most)")

    # No load asked the network: everything came from disk. At most the one probe (3 s timeout, in the background).
    assert len(silent_proxy.connections) <= 1, silent_proxy.requests
    assert registry.HUB_ACCESS.probes <= 1
    caption = next(c.value for c in at.sidebar.caption if "Live pack" in c.value)
    assert caption.startswith("Live pack: **hub**") and "model cache" in caption, caption
    assert not [w.value for w in at.warning if "cannot be used" in w.value]

    # the real architectures' shapes, and the words as the real tokenizers split them
    cat = images.sample_png("photo: cat")
    question = images.samples()["photo: cat"].question
    asked = models.ask("hub", cat, question)
    assert asked.cross_attentions.shape[-1] == 1 + 24 * 24 and asked.grid == (24, 24)  # BLIP base, 384 px
    assert asked.tokens[1:] == ["what", "animal", "is", "in", "the", "photo", "?", "[SEP]"], asked.tokens
    fused = models.fuse("hub", cat, question)
    assert fused.tokens[0] == "[CLS]" and "animal" in fused.tokens[:fused.n_text]
    assert fused.grid == (12, 18)  # the cat, 451 x 300: ViLT resizes to 384 x 576 (shorter side 384, 32 px steps)
    assert registry.load("hub", "fusion").model.config.num_labels == VQA_ANSWERS == 3129
    at.switch_page("pages/early_fusion.py").run()
    assert re.fullmatch(r"Answer: vqa answer \d+", at.subheader[0].value), at.subheader[0].value
    view = models.patch_view("hub", cat, "clip")
    assert view.grid == (7, 7)  # CLIP B/32 at 224 px: 49 patches + CLS


def test_a_repo_missing_its_weights_falls_back_once_the_rest_stays_real(hub_standin, silent_proxy, monkeypatch,
                                                                          tmp_path, clean_state):
    partial = partial_cache(tmp_path / "hub", drop={registry.HUB_IDS["vqa"]: ["model.safetensors"]})
    network_gone(monkeypatch, partial, silent_proxy)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    assert any("Live pack: **bundled**" in c.value and "did not answer" in c.value for c in at.sidebar.caption)
    at.radio(key="pack").set_value("hub").run()
    at.switch_page("pages/cross_attention.py").run()
    assert not at.exception, [e.value for e in at.exception]
    notices = [w.value for w in at.warning if "cannot be used" in w.value]
    assert len(notices) == 1 and registry.HUB_IDS["vqa"] in notices[0], notices
    assert "missing model.safetensors" in notices[0] and "does not answer" in notices[0], notices
    at.switch_page("pages/patching.py").run()  # CLIP is complete on disk: the real one, no notice
    assert not at.exception and not [w.value for w in at.warning if "cannot be used" in w.value]
    assert models.patch_view("hub", images.sample_png("photo: cat"), "clip").grid == (7, 7)
    assert len(silent_proxy.connections) <= 1, silent_proxy.requests  # the one probe: asked once, not once per load


def test_a_real_browser_walks_every_page_of_the_cached_hub_pack_with_the_network_gone(hub_standin, silent_proxy,
                                                                                       browser):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", registry.PACK_ENV)}
    env.update(HF_HUB_CACHE=str(hub_standin), HTTPS_PROXY=silent_proxy.url, HTTP_PROXY=silent_proxy.url,
               https_proxy=silent_proxy.url, http_proxy=silent_proxy.url, NO_PROXY="", no_proxy="")
    proc, url = browser_helpers.start_streamlit(env)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1400})
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        times = {}
        start = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading", name=browser_helpers.PAGES["Home"][0]).first.wait_for(timeout=120_000)
        browser_helpers._wait_until_idle(page, timeout_s=240)
        times["Home"] = time.perf_counter() - start
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "Live pack: hub" in sidebar, sidebar
        for link, (title, charts) in browser_helpers.PAGES.items():
            if link == "Home":
                continue
            start = time.perf_counter()
            page.locator('[data-testid="stSidebarNav"]').get_by_text(link, exact=True).click()
            page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
            if charts:
                page.locator(".js-plotly-plot").nth(charts - 1).wait_for(timeout=240_000)
            browser_helpers._wait_until_idle(page, timeout_s=240)
            times[link] = time.perf_counter() - start
            browser_helpers._assert_no_exception(page, f"{link} on the cached hub pack, network gone")
            body = page.inner_text("body")
            assert "cannot be used" not in body, link
            if link in ("Cross-attention", "Early fusion"):
                assert "Answer:" in body, link
            browser_helpers.ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(browser_helpers.ARTIFACTS / f"hub-offline-{link.lower().replace(' ', '-')}.png"),
                            full_page=True)
        context.close()
    finally:
        browser_helpers.stop_streamlit(proc)
    print("\nreal browser, cached hub pack, network gone: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    assert len(silent_proxy.connections) <= 1, silent_proxy.requests
    assert {urlsplit(u).hostname for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")} == {
        "127.0.0.1"}


browser = browser_helpers.browser  # the module-scoped chromium fixture
