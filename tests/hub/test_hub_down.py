"""The Hugging Face hub does not answer: the app falls back to the bundled pack within a few seconds, says so, and
keeps working. A hub checkpoint missing from a partial local cache is handled the same way.

Nothing leaves this machine: "huggingface.co" is resolved to a local socket that accepts connections and never
replies (the worst case: no refusal, just silence), and the Hugging Face cache is an empty temporary folder.
"""
from __future__ import annotations

import socket
import threading
import time
import urllib.request

import pytest
from huggingface_hub import constants as hf_constants
from streamlit.testing.v1 import AppTest

from components.service import models
from core.inputs import text_limits
from core.models import hub_access, registry
from tests.conftest import ROOT


@pytest.fixture
def silent_hub(monkeypatch, tmp_path):
    """huggingface.co -> a local listener that never answers; an empty HF cache; no MMA_PACK override."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith("huggingface.co"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.delenv(registry.PACK_ENV, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # so the probe really tries (the hub library stays offline)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(registry, "HUB_ACCESS", registry.new_hub_access())  # not asked yet
    monkeypatch.setattr(urllib.request, "_opener", None)  # urllib's global opener, with the proxies of its time
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)  # the probe's answer sets it: restored afterwards
    models.pack_choice.clear()
    models._HUB_FAILURES.clear()
    yield accepted
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    listener.close()
    models.pack_choice.clear()  # later tests get the MMA_PACK=bundled choice again
    models._HUB_FAILURES.clear()


def test_the_probe_gives_up_within_its_timeout(silent_hub, monkeypatch):
    """The probe reaches the silent hub and gives up by its own socket timeout (checked as the timeout it passes,
    not by the clock: CI shares its cores)."""
    import urllib.request

    timeouts = []
    real_urlopen = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout=None: timeouts.append(timeout) or real_urlopen(url, timeout=timeout))
    start = time.perf_counter()
    assert registry.hub_reachable() is False
    print(f"probe of a silent hub gave up after {time.perf_counter() - start:.1f} s")
    assert silent_hub, "the probe should have reached the (silent) hub"
    assert timeouts == [registry.HUB_PROBE_TIMEOUT_S]
    choice = registry.choose_pack()
    assert choice.pack == "bundled" and choice.fallback


def test_the_app_falls_back_to_bundled_says_so_and_keeps_working(silent_hub):
    start = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()  # a hang fails here, by AppTest
    print(f"home page with a silent hub: {time.perf_counter() - start:.1f} s")
    assert not at.exception
    assert any("not reachable" in w.value for w in at.sidebar.warning)
    assert any("Live pack: **bundled**" in c.value and "did not answer" in c.value for c in at.sidebar.caption)
    at.switch_page("pages/early_fusion.py").run()
    assert not at.exception and at.subheader[0].value.startswith("Answer:")
    assert len(silent_hub) == 1 and registry.HUB_ACCESS.probes == 1  # asked once, not once per load or page


def fake_partial_cache(root, repo_id: str, files: dict[str, str]) -> None:
    """The layout huggingface_hub writes: refs/main -> a commit, snapshots/<commit>/<file>."""
    folder = root / ("models--" + repo_id.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)
    snapshot = folder / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for name, text in files.items():
        (snapshot / name).write_text(text)


def test_a_hub_model_missing_from_a_partial_cache_falls_back_with_one_plain_notice(silent_hub, tmp_path,
                                                                                   monkeypatch):
    """Every role's config is cached but no weights: that is not "cached", so the automatic choice is bundled. A
    student who picks the hub anyway gets, on each page, one notice per replaced model, naming it and saying why,
    however many results the page computes (the math panel and the masking test included)."""
    for role in registry.ROLES:
        fake_partial_cache(tmp_path / "hub", registry.HUB_IDS[role], {"config.json": "{}"})
    text_limits._tokenizer.cache_clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert any("Live pack: **bundled**" in c.value and "not all in this server's model cache" in c.value
                   for c in at.sidebar.caption)
        at.radio(key="pack").set_value("hub").run()
        caption = next(c.value for c in at.sidebar.caption if "Live pack" in c.value)
        assert caption.startswith("Live pack: **hub**") and "your choice" in caption and "**bundled**" in caption
        at.selectbox(key="image_source").set_value("shapes: two objects").run()
        for page in ("pages/patching.py", "pages/cross_attention.py", "pages/clip_space.py", "pages/early_fusion.py"):
            at.switch_page(page).run()
            assert not at.exception, [e.value for e in at.exception]
            notices = [w.value for w in at.warning if "cannot be used" in w.value]
            assert len(notices) == 1, (page, notices)
            assert "incomplete (missing" in notices[0] and "model.safetensors" in notices[0], notices
            assert "hub does not answer" in notices[0], notices
        assert any(registry.HUB_IDS["vqa"] not in n for n in notices)  # early fusion names ViLT, not BLIP
        assert registry.HUB_IDS["fusion"] in notices[0]
        at.switch_page("pages/cross_attention.py").run()
        at.toggle(key="cross_masking").set_value(True).run()
        assert not at.exception, [e.value for e in at.exception]
        notices = [w.value for w in at.warning if "cannot be used" in w.value]
        assert notices == [notices[0]] and registry.HUB_IDS["vqa"] in notices[0], notices
        assert at.subheader[0].value.startswith("Answer:")
    finally:
        text_limits._tokenizer.cache_clear()


def test_a_damaged_download_is_tried_once_then_replaced_with_a_notice(silent_hub, tmp_path, monkeypatch):
    """Every file of CLIP is there but unreadable: the load fails, the page reruns once on the bundled CLIP and says
    why; the failure is remembered, so the next page does not try again (and no page loops on reruns)."""
    files = {name: "{}" for name in ("config.json", "preprocessor_config.json", "tokenizer_config.json",
                                     "tokenizer.json", "model.safetensors")}
    fake_partial_cache(tmp_path / "hub", registry.HUB_IDS["clip"], files)
    assert registry.hub_cached("clip")
    tried = []
    real_load = registry.load
    monkeypatch.setattr(registry, "load", lambda pack, role: tried.append((pack, role)) or real_load(pack, role))
    text_limits._tokenizer.cache_clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        at.radio(key="pack").set_value("hub").run()
        at.selectbox(key="image_source").set_value("shapes: two objects").run()
        for page in ("pages/patching.py", "pages/clip_space.py"):
            at.switch_page(page).run()
            assert not at.exception, [e.value for e in at.exception]
            notices = [w.value for w in at.warning if "cannot be used" in w.value]
            assert len(notices) == 1 and "model cache failed" in notices[0], (page, notices)
        assert tried.count(("hub", "clip")) == 1, tried
    finally:
        text_limits._tokenizer.cache_clear()
