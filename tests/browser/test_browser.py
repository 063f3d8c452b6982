"""A real browser against a real server: Debian's chromium, driven by Playwright, on 127.0.0.1.

Opens every page, checks the page's own content arrived (a title, and a Plotly chart where the page draws one),
that no exception text is shown, changes a layer on one page and sees the chart change, and saves a screenshot of
each page under test-artifacts/.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.classroom.page_table import PAGE_TABLE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# Plotly charts in each page's default view
CHARTS = {"patches": 2, "cross-attention": 2, "clip-space": 2, "early-fusion": 1, "listening": 3}
PAGES = {"Home": ("Where text meets vision", 0)} | {  # sidebar link -> (heading text, charts expected)
    spec.title: (spec.title, CHARTS[spec.name]) for spec in PAGE_TABLE}
ERROR_TEXTS = ("Traceback", "Error:", "Exception", "StreamlitAPIException")

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(env: dict[str, str], within_s: float = 90) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free 127.0.0.1 port with this environment; returns once its health check
    answers (asked directly: a proxy the environment names is never used for the test's own requests). Its output
    goes to a temporary file, never to a pipe nobody reads: a full pipe blocks the server on its next log line."""
    port = _free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
         str(port), "--server.headless", "true"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.time() + within_s
    while time.time() < deadline:
        try:
            with direct.open(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    log.seek(0)
    pytest.fail(f"streamlit did not start within {within_s:.0f} s:\n" + log.read().decode(errors="replace"))


def stop_streamlit(proc: subprocess.Popen) -> None:
    """Ask the server to stop and wait for it; on a machine busy with other jobs its shutdown may take a while, so
    it gets a minute, then is killed (cleanup, not a test of how fast it stops)."""
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
    proc.log.close()


@pytest.fixture(scope="module")
def server():
    proc, url = start_streamlit(dict(os.environ, MMA_PACK="bundled", HF_HUB_OFFLINE="1"))
    yield url
    stop_streamlit(proc)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium (see .ci/run)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _plot_title(page, index: int) -> str:
    """The title of the page's index-th Plotly chart, as drawn in the browser."""
    return page.evaluate(f"() => document.querySelectorAll('.js-plotly-plot')[{index}].layout.title.text")


def _new_plot_title(page, index: int, before: str) -> str:
    """Wait until the index-th chart's title differs from `before` (the rerun has drawn it), then return it."""
    page.wait_for_function(f"(t) => document.querySelectorAll('.js-plotly-plot')[{index}].layout.title.text !== t",
                           arg=before, timeout=30_000)
    _wait_until_idle(page)
    return _plot_title(page, index)


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
    go_to(page, link)
    _wait_until_idle(page)
    return page


def go_to(page, link: str, tries: int = 4) -> None:
    """Click a page's sidebar link until its heading shows (a minute each): a click that lands while the page is
    still settling can be lost under load, and is clicked again."""
    heading = page.get_by_role("heading", name=PAGES[link][0]).first
    for attempt in range(tries):
        try:  # the click too: a link that cannot be clicked for a minute (covered, being redrawn) is tried again
            if link != "Home":
                page.locator('[data-testid="stSidebarNav"]').get_by_text(link, exact=True).click(timeout=60_000)
            heading.wait_for(timeout=60_000)
            return
        except playwright_api.TimeoutError:
            if attempt == tries - 1:
                ARTIFACTS.mkdir(exist_ok=True)  # what the page showed instead, for whoever reads the failure
                page.screenshot(path=str(ARTIFACTS / f"go-to-{link.lower().replace(' ', '-')}-failed.png"),
                                full_page=True)
                raise


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


def test_every_request_goes_to_the_app_itself(server, browser):
    """An offline classroom: on every page, each request the browser makes (scripts, fonts, icons, images, the
    websocket) goes to the app's own server, never to another host."""
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    context.on("requestfailed", lambda request: urls.append(request.url))
    page = context.new_page()
    page.on("websocket", lambda socket: urls.append(socket.url))
    page.goto(server)
    page.get_by_role("heading", name=PAGES["Home"][0]).first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    for link, (_title, charts) in PAGES.items():  # generous waits: a first visit may load and convert models
        go_to(page, link)
        if charts:
            page.locator(".js-plotly-plot").nth(charts - 1).wait_for(timeout=240_000)
        _wait_until_idle(page)
    page.wait_for_timeout(1000)  # late fetches (favicon, fonts) too
    context.close()
    web = [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    assert len(web) > 20, urls  # the recorder saw the app's own traffic
    elsewhere = sorted({u for u in web if urlsplit(u).hostname != "127.0.0.1"})
    assert not elsewhere, elsewhere


def test_changing_the_layer_changes_the_heatmap(server, browser):
    page = open_page(browser, server, "Patching", height=4000)
    cls_plot = ("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".find(p => (((p.layout || {}).title || {}).text || '').includes('CLS -&gt; patch')"
                " || (((p.layout || {}).title || {}).text || '').includes('CLS -> patch'))")
    # wait for the CLS map itself, painted: five other charts can be on the page before it
    page.wait_for_function(f"() => {{ const p = {cls_plot}; return !!(p && p.data && p.data[1]); }}",
                           timeout=120_000)

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


def test_changing_the_head_changes_the_token_patch_matrix(server, browser):
    page = open_page(browser, server, "Cross-attention", height=2200)
    matrix_plot = ("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                   ".find(p => (((p.layout || {}).title || {}).text || '').includes('Token x patch cross-attention'))")
    page.wait_for_function(f"() => !!{matrix_plot}", timeout=60_000)

    def matrix() -> str:
        return page.evaluate(f"() => JSON.stringify({matrix_plot}.data[0].z)")

    before = matrix()
    head_box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Head", exact=True)).first
    head_box.click()
    page.get_by_role("option", name="head 1", exact=True).click()
    _wait_until_idle(page)
    page.wait_for_function(f"(b) => JSON.stringify({matrix_plot}.data[0].z) !== b", arg=before, timeout=30_000)
    assert matrix() != before
    _assert_no_exception(page, "cross-attention after a head change")
    page.screenshot(path=str(ARTIFACTS / "cross-attention-head1.png"), full_page=True)
    page.close()


def test_clicking_a_patch_on_the_image_shows_which_tokens_looked_at_it(server, browser):
    page = open_page(browser, server, "Cross-attention", height=2200)
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=60_000)
    before = _plot_title(page, 2)
    frame = page.frame_locator('iframe[title*="streamlit_image_coordinates"]')
    picture = frame.locator("img")
    picture.wait_for(timeout=30_000)
    box = picture.bounding_box()
    # patch (row 7, col 0): the bottom-left corner, which is not the most-attended patch of the default view
    picture.click(position={"x": box["width"] * 0.5 / 8, "y": box["height"] * 7.5 / 8})
    assert "paid to p(7,0)" in _new_plot_title(page, 2, before)
    _assert_no_exception(page, "cross-attention after a patch click")
    page.screenshot(path=str(ARTIFACTS / "cross-attention-patch-click.png"), full_page=True)
    page.close()


def test_the_question_and_pack_follow_the_student_to_another_page(server, browser):
    page = open_page(browser, server, "Home")
    box = page.locator('[data-testid="stSidebar"] [data-testid="stTextArea"] textarea')
    box.fill("what shape is the green object?")  # the default scene: a red triangle and a green circle
    box.press("Control+Enter")  # a text area: Enter adds a line
    _wait_until_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Cross-attention", exact=True).click()
    page.get_by_role("heading", name=PAGES["Cross-attention"][0]).first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    assert box.input_value() == "what shape is the green object?"
    body = page.inner_text("body")
    assert "Live pack: bundled" in body and "Answer: circle" in body
    _assert_no_exception(page, "cross-attention after navigating")
    page.close()


def _marked_png(marker: str) -> bytes:
    """A red circle and a blue square, with a unique marker in a PNG text chunk (to look for on disk later)."""
    from PIL import Image, ImageDraw, PngImagePlugin

    image = Image.new("RGB", (160, 160), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 70, 70), fill=(220, 30, 30))
    draw.rectangle((90, 90, 140, 140), fill=(30, 60, 220))
    info = PngImagePlugin.PngInfo()
    info.add_text("marker", marker)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _files_containing(marker: bytes, since: float) -> list[str]:
    """Files written since `since` (repo, temp dir, home) that contain the marker bytes."""
    found = []
    for top in {ROOT, Path(tempfile.gettempdir()), Path.home()}:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d not in (".git", "node_modules", "proc")]
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    stat = path.stat()
                    if stat.st_mtime >= since and stat.st_size < 50 * 2 ** 20 and marker in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    continue
    return found


def _upload(page, name: str, data: bytes, mime: str = "image/png") -> None:
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="Image").first.click()
    page.get_by_role("option", name="upload an image").click()
    _wait_until_idle(page)
    sidebar.locator('input[type="file"]').set_input_files({"name": name, "mimeType": mime, "buffer": data})
    _wait_until_idle(page)


def test_upload_an_image_ask_a_question_and_click_a_token(server, browser):
    """The whole student path on the cross-attention page, and the upload never touches the disk."""
    page = open_page(browser, server, "Cross-attention", height=2200)
    started = time.time() - 1
    marker = f"mma-upload-{uuid.uuid4().hex}"
    _upload(page, "two-shapes.png", _marked_png(marker))
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator("img").first.wait_for(timeout=30_000)
    box = sidebar.locator('[data-testid="stTextArea"] textarea')
    box.fill("what shape is the red object?")
    box.press("Control+Enter")  # a text area: Enter adds a line
    _wait_until_idle(page)
    page.get_by_text("Answer:").first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert "Question: “what shape is the red object?”" in body
    _assert_no_exception(page, "cross-attention after an upload and a question")
    page.screenshot(path=str(ARTIFACTS / "cross-attention-upload-question.png"), full_page=True)

    before = _plot_title(page, 1)
    names = page.evaluate("() => Array.from(document.querySelectorAll('button')).map(b => b.innerText.trim())")
    assert "shape" in names, names
    page.locator("button", has_text=re.compile(r"^shape$")).first.click()  # the token picker (segmented control)
    assert "shape" in _new_plot_title(page, 1, before)
    _assert_no_exception(page, "cross-attention after a token click")
    page.screenshot(path=str(ARTIFACTS / "cross-attention-token-click.png"), full_page=True)
    page.close()
    assert not _files_containing(marker.encode(), started), "an upload was written to disk"


def test_a_bad_upload_and_html_in_the_question_show_as_messages_and_text(server, browser):
    page = open_page(browser, server, "Early fusion", height=1600)
    _upload(page, "holiday.jpg", b"<html><script>window.__xss = 1</script></html>", "image/jpeg")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("could not be read as an image").first.wait_for(timeout=30_000)
    _assert_no_exception(page, "early fusion after a bad upload")
    page.screenshot(path=str(ARTIFACTS / "bad-upload-message.png"), full_page=True)
    _upload(page, "ok.png", _marked_png("fine"))  # the next upload works
    box = sidebar.locator('[data-testid="stTextArea"] textarea')
    box.fill('<img src=x onerror="window.__xss=1"><b id="xss">what</b> color is the $x$ circle?')
    box.press("Control+Enter")  # a text area: Enter adds a line
    _wait_until_idle(page)
    page.get_by_text("Answer:").first.wait_for(timeout=60_000)
    assert page.locator("#xss").count() == 0 and page.evaluate("() => window.__xss") is None
    _assert_no_exception(page, "early fusion after an HTML question")
    page.screenshot(path=str(ARTIFACTS / "html-question-as-text.png"), full_page=True)
    page.close()

