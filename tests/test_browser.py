"""A real browser against a real server: Debian's chromium, driven by Playwright, on 127.0.0.1.

Opens every page, checks the page's own content arrived (a title, and a Plotly chart where the page draws one),
that no exception text is shown, changes a layer on one page and sees the chart change, and saves a screenshot of
each page under test-artifacts/.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PAGES = {  # sidebar link -> (heading text, charts expected)
    "Home": ("Where text meets vision", 0),
    "Patching": ("Patching", 2),
    "Cross-attention": ("Cross-attention", 2),
    "CLIP space": ("CLIP space", 2),
    "Early fusion": ("Early fusion", 1),
}
ERROR_TEXTS = ("Traceback", "Error:", "Exception", "StreamlitAPIException")

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = dict(os.environ, MMA_PACK="bundled", HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
         str(port), "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 60 s:\n" + proc.stdout.read().decode(errors="replace"))
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium (see .ci/run)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _wait_until_idle(page, timeout_s: float = 90) -> None:
    """Streamlit shows a 'running' widget while the script runs; wait for it to go and stay gone."""
    deadline = time.time() + timeout_s
    quiet_since = None
    while time.time() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.5:
            return
        time.sleep(0.25)
    raise AssertionError("the page was still running after %.0f s" % timeout_s)


def _assert_no_exception(page, where: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception box on {where}"
    body = page.inner_text("body")
    for text in ERROR_TEXTS:
        assert text not in body, f"{text!r} shown on {where}"


def open_page(browser, server, link: str, height: int = 1000):
    """Open the app and go to a page the way a student does: through the sidebar."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(server)
    page.get_by_role("heading", name=PAGES["Home"][0]).first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    if link != "Home":
        page.locator('[data-testid="stSidebarNav"]').get_by_text(link, exact=True).click()
    page.get_by_role("heading", name=PAGES[link][0]).first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    return page


@pytest.mark.parametrize("link", list(PAGES))
def test_page_loads_without_exception(server, browser, link):
    title, charts = PAGES[link]
    page = open_page(browser, server, link)
    path = link.lower().replace(" ", "-")
    if charts:
        page.locator(".js-plotly-plot").nth(charts - 1).wait_for(timeout=60_000)
    assert page.locator(".js-plotly-plot").count() >= charts
    _assert_no_exception(page, link)
    assert any("Live pack: bundled" in t for t in page.locator('[data-testid="stSidebar"]').all_inner_texts())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{path}.png"), full_page=True)
    page.close()


def test_changing_the_layer_changes_the_heatmap(server, browser):
    page = open_page(browser, server, "Patching", height=4000)
    page.locator(".js-plotly-plot").nth(4).wait_for(timeout=60_000)
    cls_plot = ("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".find(p => p.layout.title.text.includes('CLS -&gt; patch') || p.layout.title.text.includes('CLS -> patch'))")

    def heat() -> list:
        return page.evaluate(f"() => {cls_plot}.data[1].z")

    before = heat()
    layer_box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Layer").first
    layer_box.click()
    page.get_by_role("option", name="layer 0").click()
    _wait_until_idle(page)
    page.wait_for_function(f"(b) => JSON.stringify({cls_plot}.data[1].z) !== b", arg=json.dumps(before),
                           timeout=30_000)
    assert heat() != before
    _assert_no_exception(page, "patching after a layer change")
    page.screenshot(path=str(ARTIFACTS / "patching-layer0.png"), full_page=True)
    page.close()


def test_clicking_a_patch_on_the_image_shows_which_tokens_looked_at_it(server, browser):
    page = open_page(browser, server, "Cross-attention", height=2200)
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=60_000)

    def bars_title() -> str:
        return page.evaluate("() => document.querySelectorAll('.js-plotly-plot')[2].layout.title.text")

    before = bars_title()
    frame = page.frame_locator('iframe[title*="streamlit_image_coordinates"]')
    picture = frame.locator("img")
    picture.wait_for(timeout=30_000)
    box = picture.bounding_box()
    # patch (row 7, col 0): the bottom-left corner, which is not the most-attended patch of the default view
    picture.click(position={"x": box["width"] * 0.5 / 8, "y": box["height"] * 7.5 / 8})
    page.wait_for_function("(t) => document.querySelectorAll('.js-plotly-plot')[2].layout.title.text !== t",
                           arg=before, timeout=30_000)
    _wait_until_idle(page)
    assert "paid to p(7,0)" in bars_title()
    _assert_no_exception(page, "cross-attention after a patch click")
    page.screenshot(path=str(ARTIFACTS / "cross-attention-patch-click.png"), full_page=True)
    page.close()


def test_the_question_and_pack_follow_the_student_to_another_page(server, browser):
    page = open_page(browser, server, "Home")
    box = page.locator('[data-testid="stSidebar"] [data-testid="stTextInputField"]')
    box.fill("what shape is the green object?")  # the default scene: a red triangle and a green circle
    box.press("Enter")
    _wait_until_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Cross-attention", exact=True).click()
    page.get_by_role("heading", name=PAGES["Cross-attention"][0]).first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    assert box.input_value() == "what shape is the green object?"
    body = page.inner_text("body")
    assert "Live pack: bundled" in body and "Answer: circle" in body
    _assert_no_exception(page, "cross-attention after navigating")
    page.close()
