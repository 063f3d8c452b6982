"""The classroom features in a real browser (the harness of tests/browser/test_browser.py: Debian's chromium, Playwright,
`streamlit run app.py` on 127.0.0.1): a shared link opens its view with no "Page not found", the downloads arrive
with their labels, predict-then-reveal hides the answer until a click, and both themes render.
"""
from __future__ import annotations

import csv
import io
import time
from urllib.parse import urlencode

import numpy as np
import pytest

from tests.browser.test_browser import ARTIFACTS, _assert_no_exception, _wait_until_idle, browser, open_page, server  # noqa: F401

LINK = {"page": "cross-attention", "image": "shapes: three objects", "text": "what color is the circle?",
        "layer": "0", "head": "1", "token": "5", "patch": "20"}


def _open_link(browser, server, params: dict, height: int = 2400, scheme: str = "light"):
    """Open a shared link; fail if Streamlit's "Page not found" dialog shows at any moment while it loads."""
    page = browser.new_page(viewport={"width": 1400, "height": height}, color_scheme=scheme, accept_downloads=True)
    page.goto(server + "/?" + urlencode(params))
    deadline = time.time() + 90
    while time.time() < deadline:
        assert "Page not found" not in page.inner_text("body"), "the link showed Streamlit's Page-not-found dialog"
        if page.get_by_role("heading", name="Cross-attention").count() or page.get_by_role(
                "heading", name="Patching").count() or page.get_by_role("heading", name="Early fusion").count():
            break
        time.sleep(0.2)
    _wait_until_idle(page)
    assert "Page not found" not in page.inner_text("body")
    return page


def test_a_shared_link_opens_its_page_and_view_on_a_fresh_server(server, browser):
    """The first test on this module's fresh server: the very first run is where a path-style link trips."""
    page = _open_link(browser, server, LINK)
    assert page.url.split("?")[0].endswith("/cross-attention")
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=60_000)
    titles = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => p.layout.title.text)")
    assert any("Where “circle” looked" in t for t in titles)
    assert any("paid to p(2,4)" in t for t in titles)
    assert page.get_by_role("combobox", name="Layer").input_value() == "layer 0"
    assert page.get_by_role("combobox", name="Head").input_value() == "head 1"
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Share this view").click()
    shared = sidebar.locator('[data-testid="stCode"]').inner_text().strip()
    for key, value in LINK.items():
        assert f"{key}={urlencode({'': value})[1:]}" in shared
    _assert_no_exception(page, "a shared link")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "classroom-shared-link.png"), full_page=True)

    again = _open_link(browser, server, {"page": "patches", "image": "shapes: one object", "layer": "1"})
    assert again.url.split("?")[0].endswith("/patches")
    assert again.get_by_role("combobox", name="Layer").input_value() == "layer 1"
    page.close()
    again.close()


def _download(page, label: str) -> bytes:
    button = page.locator('[data-testid="stDownloadButton"]').filter(has_text=label).first
    with page.expect_download(timeout=60_000) as info:
        button.click()
    with open(info.value.path(), "rb") as f:
        return f.read()


def test_the_downloads_carry_the_matrix_and_its_labels(server, browser):
    page = open_page(browser, server, "Cross-attention", height=2400)
    page.locator('[data-testid="stDownloadButton"]').first.wait_for(timeout=60_000)
    rows = list(csv.reader(io.StringIO(_download(page, "CSV").decode())))
    assert rows[0][1:] == [f"p({r},{c})" for r in range(8) for c in range(8)]
    tokens = [r[0] for r in rows[1:]]
    assert tokens[0] == "[CLS]" and "triangle" in tokens  # the default question: what color is the triangle?
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert values.shape == (len(tokens), 64) and (values >= 0).all() and (values.sum(axis=1) <= 1 + 1e-4).all()

    data = np.load(io.BytesIO(_download(page, "NPZ")), allow_pickle=False)
    assert data["matrix"].shape == (len(tokens), 64) and list(data["row_labels"]) == tokens
    assert np.allclose(data["matrix"], values, atol=1e-5) and str(data["pack"]) == "bundled"
    if page.locator('[data-testid="stDownloadButton"]').filter(has_text="PNG").count():
        assert _download(page, "PNG")[:8] == b"\x89PNG\r\n\x1a\n"
    _assert_no_exception(page, "cross-attention after downloads")
    page.close()

    fusion = _open_link(browser, server, {"page": "early-fusion"}, height=2400)
    fusion.locator('[data-testid="stDownloadButton"]').first.wait_for(timeout=60_000)
    joint = np.load(io.BytesIO(_download(fusion, "NPZ")), allow_pickle=False)
    labels = list(joint["row_labels"])
    assert joint["matrix"].shape == (len(labels), len(labels)) and list(joint["col_labels"]) == labels
    assert labels[0] == "[CLS]" and "p(0,0)" in " ".join(labels) and str(joint["n_text"]) == "8"
    assert np.allclose(joint["matrix"].sum(axis=1), 1.0, atol=1e-4)  # joint self-attention: rows sum to 1
    fusion.close()


def test_predict_first_hides_the_answer_until_a_patch_is_clicked(server, browser):
    page = _open_link(browser, server, {**LINK, "predict": "1"}, height=1600)
    assert "Predict:" in page.inner_text("body")
    assert "Answer:" not in page.inner_text("body") and page.locator(".js-plotly-plot").count() == 0
    reveal = page.get_by_role("button", name="Reveal")
    assert reveal.is_disabled()
    picture = page.frame_locator('iframe[title*="streamlit_image_coordinates"]').locator("img")
    picture.wait_for(timeout=30_000)
    box = picture.bounding_box()
    picture.click(position={"x": box["width"] * 4.5 / 8, "y": box["height"] * 2.5 / 8})  # patch p(2,4)
    page.get_by_text("Your guess: p(2,4)").wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "classroom-predict.png"), full_page=True)
    page.get_by_role("button", name="Reveal").click()
    page.get_by_text("Answer:").first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    body = page.inner_text("body")
    assert any(word in body for word in ("Spot on", "Close:", "Not this time"))
    _assert_no_exception(page, "after the reveal")
    page.screenshot(path=str(ARTIFACTS / "classroom-revealed.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_both_themes_render_the_pages(server, browser, scheme):
    for params, name in (({**LINK}, "cross-attention"),):
        page = _open_link(browser, server, params, height=2600, scheme=scheme)
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        _wait_until_idle(page)
        background = page.evaluate("() => getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        dark = sum(int(v) for v in background[background.index("(") + 1:-1].split(",")[:3]) < 3 * 128
        assert dark == (scheme == "dark"), background
        _assert_no_exception(page, f"{name} in the {scheme} theme")
        page.screenshot(path=str(ARTIFACTS / f"classroom-{name}-{scheme}.png"), full_page=True)
        page.close()
