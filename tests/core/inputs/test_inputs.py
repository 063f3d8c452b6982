"""The sidebar's inputs (components/widgets/inputs.py) where the browser and the server meet: a file type the app cannot
read, and a text pasted over several lines.

Measured in Debian's headless Chromium (playwright, Streamlit 1.67): a clipboard paste, or `insertText`, of
"what color\\nis the\\ncircle?" into an st.text_input (an HTML <input>) reaches the server as "what color is the
circle?": the browser has already turned the line breaks into spaces, so the server cannot tell that anything was
joined. An st.text_area (a <textarea>) delivers the line breaks, which is why the sidebar's text box is one.
"""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.inputs import text_limits
from tests.conftest import ROOT

PASTED = "what color\nis the\ncircle?"
JOINED_NOTE = "The text had 3 lines; they were joined into one."


ANSWER = re.compile(r"^Answer( \(a guess\))?: ")  # "(a guess)": the bundled pack on an image unlike its world


def _png(colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _tiff() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), "blue").save(buffer, format="TIFF")
    return buffer.getvalue()


def _sidebar_notes(at: AppTest) -> list[str]:
    return [i.value for i in at.sidebar.info if i.value.startswith("Note:")]


def test_clean_joins_lines_with_a_note_and_a_final_enter_is_not_a_line():
    assert text_limits.clean(PASTED) == ("what color is the circle?", [JOINED_NOTE])
    assert text_limits.clean("what color\r\nis it?\n\n") == (
        "what color is it?", ["The text had 2 lines; they were joined into one."])
    assert text_limits.clean("what color is it?\n") == ("what color is it?", [])
    assert text_limits.clean("what  color\tis it?") == ("what color is it?", [])  # spaces: nothing to say


def test_the_uploaders_let_every_file_reach_the_server():
    """A type list would make the browser refuse a .tif itself, without a rerun: the last image and answer would
    stay on screen with only a small icon. With none, the server reads the file and says what is wrong."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/clip_space.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.file_uploader(key="clip_uploads").allowed_type == []
    at.selectbox(key="image_source").set_value("upload an image").run()
    assert at.file_uploader(key="upload").allowed_type == []


def test_a_tif_after_a_good_upload_clears_the_answer_and_names_the_format():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/early_fusion.py").run()
    at.selectbox(key="image_source").set_value("upload an image").run()
    at.file_uploader(key="upload").set_value(("shapes.png", _png(), "image/png")).run()
    # a plain red picture is no shapes scene: the bundled pack's answer is marked as a guess
    assert at.subheader and ANSWER.match(at.subheader[0].value) and at.sidebar.get("image")
    at.file_uploader(key="upload").set_value(("scan.tif", _tiff(), "image/tiff")).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("This file is a TIFF image"), errors
    assert "PNG, JPEG, GIF, BMP or WEBP" in errors[0] and "Error" not in errors[0]
    assert not at.subheader, "the previous answer is still on screen"
    assert not at.sidebar.get("image"), "the previous image is still in the sidebar"
    assert any("Choose an image" in i.value for i in at.info)


def test_a_multi_line_question_is_joined_with_a_note_and_answered():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/cross_attention.py").run()
    at.text_area(key="text").set_value(PASTED).run()
    assert not at.exception, [e.value for e in at.exception]
    assert _sidebar_notes(at) == [f"Note: {JOINED_NOTE}"]
    assert at.subheader[0].value.startswith("Answer:")
    assert any("what color is the circle?" in m.value for m in list(at.markdown) + list(at.caption))


def test_a_link_whose_text_has_line_breaks_gets_the_same_note():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"page": "early-fusion", "image": "shapes: two objects", "text": PASTED})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_area(key="text").value == PASTED  # the box shows what the link carried
    assert f"Note: {JOINED_NOTE}" in _sidebar_notes(at)
    assert at.subheader[0].value.startswith("Answer:")


# --- the real browser: what a paste and a refused file really do -------------------------------------------------

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")
from tests.browser.test_browser import PAGES, _assert_no_exception, _wait_until_idle, browser, server  # noqa: E402 - the same server and browser set-up as the other browser tests

__all__ = ["browser", "server"]  # pytest fixtures, used by name below


def _open(browser, server, link: str):
    """A page with clipboard access (a real Ctrl+V needs it), opened on `link` through the sidebar."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(server)
    page.get_by_role("heading", name=PAGES["Home"][0]).first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text(link, exact=True).click()
    page.get_by_role("heading", name=PAGES[link][0]).first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    return context, page


def test_browser_a_pasted_paragraph_keeps_its_lines_and_gets_the_note(server, browser):
    context, page = _open(browser, server, "Cross-attention")
    box = page.locator('[data-testid="stSidebar"] [data-testid="stTextArea"] textarea')
    box.fill("")
    page.evaluate("text => navigator.clipboard.writeText(text)", PASTED)
    box.click()
    page.keyboard.press("Control+V")
    assert box.input_value() == PASTED  # a <textarea> keeps the line breaks (an <input> makes them spaces)
    page.keyboard.press("Control+Enter")  # Streamlit's "apply" for a text area
    _wait_until_idle(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text(JOINED_NOTE).first.wait_for(timeout=60_000)
    page.get_by_text("Answer:").first.wait_for(timeout=60_000)
    assert "“what color is the circle?”" in page.inner_text("body")
    _assert_no_exception(page, "cross-attention after a multi-line paste")
    context.close()


def test_browser_a_tif_upload_replaces_the_answer_with_a_message(server, browser):
    context, page = _open(browser, server, "Early fusion")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="Image").first.click()
    page.get_by_role("option", name="upload an image").click()
    _wait_until_idle(page)
    upload = sidebar.locator('input[type="file"]')
    upload.set_input_files({"name": "shapes.png", "mimeType": "image/png", "buffer": _png()})
    _wait_until_idle(page)
    page.get_by_text(ANSWER).first.wait_for(timeout=60_000)
    upload.set_input_files({"name": "scan.tif", "mimeType": "image/tiff", "buffer": _tiff()})
    _wait_until_idle(page)
    sidebar.get_by_text("This file is a TIFF image").first.wait_for(timeout=30_000)
    page.get_by_text("Choose an image in the sidebar").first.wait_for(timeout=30_000)
    assert page.get_by_text(ANSWER).count() == 0, "the previous answer is still on screen"
    assert sidebar.locator('[data-testid="stImage"]').count() == 0, "the previous image is still in the sidebar"
    _assert_no_exception(page, "early fusion after a .tif upload")
    context.close()
