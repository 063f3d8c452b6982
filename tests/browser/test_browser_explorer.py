"""The attention explorer in a real browser (Debian's chromium via Playwright) against `streamlit run
tests/browser/explorer_app.py`: hovering a token paints its row and its heatmap, hovering a patch paints the token bars,
none of it reruns the script; a click pins, reaches Python and the URL; the arrow keys move the selection.
Screenshots go to test-artifacts/."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from bench.browser import explorer, serve, wait_for_explorer
from components.figures.patch_overlay import COLORSCALE_STOPS
from tests.browser.test_browser import browser  # noqa: F401 - the shared fixture

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")
BIG = "explorer_big"


@pytest.fixture(scope="module")
def server():
    with serve() as url:
        yield url




def _runs(page) -> str:
    return page.get_by_text("script runs:").inner_text()


def _picture_pixels(root) -> list[int]:
    """The image canvas's RGBA pixels, sampled on a coarse lattice (what the user sees)."""
    return root.locator(".aex-image").evaluate(
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, out = [];
                    for (let i = 0; i < d.length; i += 4 * 97) out.push(d[i], d[i + 1], d[i + 2]); return out; }""")


def _matrix_pixels(root) -> list[int]:
    """The token x key matrix canvas's RGB pixels, sampled like _picture_pixels."""
    return root.locator(".aex-matcanvas").evaluate(
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, out = [];
                    for (let i = 0; i < d.length; i += 4 * 97) out.push(d[i], d[i + 1], d[i + 2]); return out; }""")


def _patch_centre(root, index: int, cols: int = 24) -> tuple[float, float]:
    box = root.locator(".aex-image").bounding_box()
    r, c = divmod(index, cols)
    return box["x"] + (c + 0.5) * box["width"] / cols, box["y"] + (r + 0.5) * box["height"] / cols


def _settled(page, root, paints_before: int) -> None:
    page.wait_for_function("([el, n]) => Number(el.dataset.paints) > n", arg=[root.element_handle(), paints_before],
                           timeout=10_000)
    page.wait_for_timeout(50)


@pytest.fixture(scope="module")
def page(server, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 1500})
    page.goto(server + "/?only=big")
    wait_for_explorer(page, BIG)
    page.wait_for_timeout(1500)  # the first run has finished
    yield page
    page.close()


def test_hovering_a_token_paints_its_row_and_heatmap_without_a_rerun(page):
    root = explorer(page, BIG)
    runs = _runs(page)
    assert root.get_attribute("data-query") == "5"  # the harness opens on token 5 ("cat")
    before_pixels, before_argmax = _picture_pixels(root), root.get_attribute("data-heat-argmax")
    paints = int(root.get_attribute("data-paints"))
    root.locator('.aex-chip[data-q="2"]').hover()
    _settled(page, root, paints)
    assert root.get_attribute("data-hovered-token") == "2"
    assert root.get_attribute("data-query") == "2"
    assert "on" in root.locator('.aex-rowlabel[data-q="2"]').get_attribute("class")  # the matrix row lights up
    assert "on" not in root.locator('.aex-rowlabel[data-q="5"]').get_attribute("class")
    row_box = root.locator(".aex-rowhl").bounding_box()
    label_box = root.locator('.aex-rowlabel[data-q="2"]').bounding_box()
    assert abs(row_box["y"] - label_box["y"]) < 2  # the highlight sits on row 2
    after_pixels = _picture_pixels(root)
    assert after_pixels != before_pixels  # the heatmap over the image was repainted
    assert root.get_attribute("data-heat-argmax") != before_argmax  # for token 2's own weights
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer-hover-token.png"), full_page=True)
    assert _runs(page) == runs


def test_hovering_a_patch_paints_the_token_bars_without_a_rerun(page):
    root = explorer(page, BIG)
    runs = _runs(page)
    paints = int(root.get_attribute("data-paints"))
    page.mouse.move(*_patch_centre(root, 3 * 24 + 4))
    _settled(page, root, paints)
    assert root.get_attribute("data-hovered-patch") == str(3 * 24 + 4)
    first = [root.locator(f'.aex-chip[data-q="{q}"]').get_attribute("data-value") for q in range(10)]
    assert all(v for v in first)  # every token shows how much it looked at the patch
    col = root.locator(".aex-colhl")
    assert col.is_visible()
    paints = int(root.get_attribute("data-paints"))
    page.mouse.move(*_patch_centre(root, 20 * 24 + 18))
    _settled(page, root, paints)
    assert root.get_attribute("data-hovered-patch") == str(20 * 24 + 18)
    second = [root.locator(f'.aex-chip[data-q="{q}"]').get_attribute("data-value") for q in range(10)]
    assert second != first
    matrix, column = root.locator(".aex-matcanvas").bounding_box(), col.bounding_box()
    assert abs((column["x"] - matrix["x"]) / matrix["width"] - (20 * 24 + 18) / 576) < 0.01  # the column lights up
    page.screenshot(path=str(ARTIFACTS / "explorer-hover-patch.png"), full_page=True)
    assert _runs(page) == runs


def test_layer_head_and_head_tiles_switch_without_a_rerun(page):
    root = explorer(page, BIG)
    runs = _runs(page)
    max_before = root.get_attribute("data-view-max")
    root.locator('.aex-pills[data-kind="layer"] .aex-pill[data-value="3"]').click()
    page.wait_for_function("(el) => el.dataset.layer === '3'", arg=root.element_handle())
    root.locator('.aex-tile[data-h="7"]').click()
    page.wait_for_function("(el) => el.dataset.head === '7'", arg=root.element_handle())
    assert root.get_attribute("data-view-max") != max_before
    entropies = [float(root.locator(f'.aex-tile[data-h="{h}"]').get_attribute("data-entropy")) for h in range(12)]
    orders = [int(root.locator(f'.aex-tile[data-h="{h}"]').evaluate("(t) => t.style.order")) for h in range(12)]
    assert [h for _, h in sorted(zip(orders, range(12)))] == sorted(range(12), key=lambda h: entropies[h])
    assert _runs(page) == runs


def test_a_click_pins_and_reaches_python_and_the_url(page):
    root = explorer(page, BIG)
    runs = _runs(page)
    page.mouse.move(*_patch_centre(root, 10 * 24 + 11))
    page.mouse.click(*_patch_centre(root, 10 * 24 + 11))
    root.locator('.aex-chip[data-q="8"]').click()  # a second pin: token 8 ("eyes")
    page.get_by_text('"query": 8').first.wait_for(timeout=30_000)
    shown = page.get_by_text("pinned explorer_big:").inner_text()
    pinned = json.loads(shown.split(":", 1)[1])
    assert pinned == {"layer": 3, "head": 7, "query": 8, "key": 10 * 24 + 11}
    assert json.loads(page.get_by_text("on_pin saw:").inner_text().split(":", 1)[1]) == pinned  # before the rerun
    assert _runs(page) != runs  # the pin is the one thing that reruns
    page.wait_for_function("() => new URL(location.href).searchParams.get('token') === '8'", timeout=30_000)
    query = parse_qs(urlsplit(page.url).query)
    assert query["patch"] == [str(10 * 24 + 11)] and query["layer"] == ["3"] and query["head"] == ["7"]
    assert root.get_attribute("data-pinned-query") == "8"  # the rerun kept the explorer where it was


def test_arrow_keys_move_the_selection(page):
    root = explorer(page, BIG)
    page.mouse.move(5, 5)  # the pointer off the explorer: the keyboard's selection shows
    root.locator(".aex-tokens").focus()
    root.locator(".aex-tokens").press("ArrowLeft")
    page.wait_for_function("(el) => el.dataset.pinnedQuery === '7'", arg=root.element_handle())
    assert root.get_attribute("data-query") == "7"
    root.locator(".aex-image").focus()
    root.locator(".aex-image").press("ArrowDown")
    page.wait_for_function(f"(el) => el.dataset.pinnedKey === '{11 * 24 + 11}'", arg=root.element_handle())
    root.locator(".aex-image").press("ArrowRight")
    page.wait_for_function(f"(el) => el.dataset.pinnedKey === '{11 * 24 + 12}'", arg=root.element_handle())
    runs = _runs(page)
    root.locator(".aex-image").press("Enter")  # Enter pins it
    page.get_by_text(f'"key": {11 * 24 + 12}').first.wait_for(timeout=30_000)
    assert _runs(page) != runs


@pytest.fixture(scope="module")
def big_maps():
    """The harness's full-size maps, (12, 12, 10, 576) float32, rows summing to 0.3-1 (keys not drawn take the rest)."""
    from tests.browser.explorer_app import full_size_maps

    return full_size_maps()


def _cell(root, layer: int, head: int):
    return root.locator(f'.aex-cell[data-l="{layer}"][data-h="{head}"]')


def _grid_values(root, attribute: str) -> np.ndarray:
    """(layers, heads) from the layer x head grid's cells, read back from their data attributes."""
    rows = root.locator(".aex-cell").evaluate_all(
        f"(cs) => cs.map((c) => [Number(c.dataset.l), Number(c.dataset.h), Number(c.dataset.{attribute})])")
    out = np.full((12, 12), np.nan)
    for layer, head, value in rows:
        out[int(layer), int(head)] = value
    return out


def _rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))


def test_the_layer_head_grid_shows_each_heads_numbers_computed_from_the_maps(page, big_maps):
    """The grid's cells carry entropy and cross-modal mass per (layer, head), averaged over the 10 tokens: numpy
    here, from the harness's own float maps, must agree (the payload ships float32 numbers, not uint8 codes)."""
    root = explorer(page, BIG)
    runs = _runs(page)
    assert root.locator(".aex-cell").count() == 12 * 12
    assert root.locator(".aex-axis").all_inner_texts() == ["layer", "head"]
    mass = big_maps.sum(axis=-1, dtype=np.float64)  # (L, H, Q): the row sums, before any renormalising
    p = big_maps / mass[..., None]
    entropy = -(p * np.log2(np.where(p > 0, p, 1))).sum(axis=-1).mean(axis=-1)  # (L, H) bits
    rows, cols = np.divmod(np.arange(576), 24)
    cy, cx = (p * rows).sum(axis=-1), (p * cols).sum(axis=-1)  # (L, H, Q) the attention's centre
    spread = (p * np.hypot(rows - cy[..., None], cols - cx[..., None])).sum(axis=-1).mean(axis=-1)
    np.testing.assert_allclose(_grid_values(root, "entropy"), entropy, rtol=1e-5)
    np.testing.assert_allclose(_grid_values(root, "mass"), mass.mean(axis=-1), rtol=1e-5)
    np.testing.assert_allclose(_grid_values(root, "spread"), spread, rtol=1e-5, atol=1e-5)
    assert mass.mean(axis=-1).min() < 0.5 < 0.9 < mass.mean(axis=-1).max()  # the harness's masses do differ
    np.testing.assert_allclose(_grid_values(root, "value"), entropy, rtol=1e-5)  # entropy is shown first

    root.locator(".aex-summary select").select_option("mass")
    page.wait_for_function("(el) => el.querySelector('.aex-sgrid').dataset.metric === 'mass'",
                           arg=root.element_handle())
    np.testing.assert_allclose(_grid_values(root, "value"), mass.mean(axis=-1), rtol=1e-5)
    assert "share" in root.locator(".aex-summarynote").inner_text()  # the header says what the number means
    low, high = np.unravel_index(mass.mean(axis=-1).argmin(), (12, 12)), np.unravel_index(mass.mean(axis=-1).argmax(),
                                                                                          (12, 12))
    background = "(c) => getComputedStyle(c).backgroundColor"
    assert _cell(root, *low).evaluate(background) == _rgb(COLORSCALE_STOPS[0][1])  # one scale: min to max
    assert _cell(root, *high).evaluate(background) == _rgb(COLORSCALE_STOPS[-1][1])
    root.locator(".aex-summary select").select_option("entropy")
    page.wait_for_function("(el) => el.querySelector('.aex-sgrid').dataset.metric === 'entropy'",
                           arg=root.element_handle())
    assert _runs(page) == runs  # choosing the number is the browser's business


def test_hovering_a_grid_cell_paints_that_heads_map_and_leaving_restores_without_a_rerun(page, big_maps):
    root = explorer(page, BIG)
    page.mouse.move(5, 5)
    page.wait_for_timeout(100)
    runs = _runs(page)
    layer, head = 8, 2
    assert (root.get_attribute("data-layer"), root.get_attribute("data-head")) != (str(layer), str(head))
    before = _picture_pixels(root), _matrix_pixels(root), root.get_attribute("data-view-max")
    paints = int(root.get_attribute("data-paints"))
    _cell(root, layer, head).hover()
    _settled(page, root, paints)
    assert (root.get_attribute("data-preview-layer"), root.get_attribute("data-preview-head")) == ("8", "2")
    assert "preview" in _cell(root, layer, head).get_attribute("class")
    view = big_maps[layer, head]  # (Q, K): the cell's head, for the shown token
    q = int(root.get_attribute("data-query"))
    assert float(root.get_attribute("data-view-max")) == pytest.approx(view.max(), rel=1e-4)  # its colour scale
    assert float(before[2]) != pytest.approx(view.max(), rel=1e-3)
    arg = int(root.get_attribute("data-heat-argmax"))
    assert view[q, arg] >= view[q].max() - view.max() / 255  # the heatmap's brightest patch is this head's
    assert _picture_pixels(root) != before[0] and _matrix_pixels(root) != before[1]  # image and matrix repainted
    assert root.get_attribute("data-layer") != "8"  # a hover previews; it does not choose
    paints = int(root.get_attribute("data-paints"))
    page.mouse.move(5, 5)
    _settled(page, root, paints)
    assert root.get_attribute("data-preview-layer") == ""
    assert (_picture_pixels(root), _matrix_pixels(root), root.get_attribute("data-view-max")) == before  # restored
    assert _runs(page) == runs


def test_clicking_a_grid_cell_shows_and_pins_that_layer_and_head(page, big_maps):
    root = explorer(page, BIG)
    runs = _runs(page)
    query, key = int(root.get_attribute("data-pinned-query")), root.get_attribute("data-pinned-key")
    old = root.get_attribute("data-layer"), root.get_attribute("data-head")
    _cell(root, 8, 2).click()
    page.wait_for_function("() => document.body.innerText.includes('pinned explorer_big: {\"layer\": 8, \"head\": 2')",
                           timeout=30_000)
    pinned = json.loads(page.get_by_text("pinned explorer_big:").inner_text().split(":", 1)[1])
    assert pinned == {"layer": 8, "head": 2, "query": query, "key": int(key) if key else None}
    assert _runs(page) != runs  # the pin reached Python
    page.wait_for_function("() => new URL(location.href).searchParams.get('layer') === '8'", timeout=30_000)
    assert parse_qs(urlsplit(page.url).query)["head"] == ["2"]
    assert (root.get_attribute("data-layer"), root.get_attribute("data-head")) == ("8", "2")
    assert float(root.get_attribute("data-view-max")) == pytest.approx(big_maps[8, 2].max(), rel=1e-4)
    assert "on" in _cell(root, 8, 2).get_attribute("class").split()  # the chosen head's cell is outlined
    assert "on" not in _cell(root, *map(int, old)).get_attribute("class").split()
    assert "on" in root.locator('.aex-pills[data-kind="layer"] .aex-pill[data-value="8"]').get_attribute("class")
    assert "on" in root.locator('.aex-pills[data-kind="head"] .aex-pill[data-value="2"]').get_attribute("class")


def test_the_bundled_model_explorer_renders_the_real_result(server, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 1500})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/?only=bundled")
    root = wait_for_explorer(page, "explorer_bundled")
    assert root.locator(".aex-chip").count() == root.locator(".aex-rowlabel").count() >= 3
    assert root.locator(".aex-tile").count() >= 1
    root.locator(".aex-chip").first.hover()
    page.wait_for_function("(el) => el.dataset.hoveredToken === '0'", arg=root.element_handle())
    page.screenshot(path=str(ARTIFACTS / "explorer-bundled.png"), full_page=True)
    assert not errors
    page.close()


def _open_counting_frames(browser, url: str, page_name: str, key: str):
    """A real page opened at ?page=, its explorer up and settled, and the list every websocket frame the browser
    sends lands in (a rerun is such a frame; a hover must add none)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    sent: list = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    page.goto(f"{url}/?page={page_name}")
    root = wait_for_explorer(page, key)
    page.wait_for_timeout(2000)
    return page, root, sent


def test_the_cross_attention_page_hovers_in_the_browser_and_a_pin_lands_in_the_link(browser):
    """On the real page (app.py's router): hovering a question token repaints the explorer and sends nothing to the
    server (a rerun is a message from the browser on Streamlit's websocket); a click pins it, the page reruns and
    the URL carries the pinned token."""
    with serve(str(ROOT / "app.py")) as url:
        page, root, sent = _open_counting_frames(browser, url, "cross-attention", "cross_explorer")
        before = len(sent)
        paints = int(root.get_attribute("data-paints"))
        root.locator('.aex-chip[data-q="2"]').hover()
        _settled(page, root, paints)
        assert root.get_attribute("data-hovered-token") == "2"
        root.locator('.aex-chip[data-q="4"]').hover()
        page.wait_for_timeout(800)
        assert root.get_attribute("data-hovered-token") == "4"
        assert len(sent) == before  # hovering asked the server for nothing: no script run
        root.locator('.aex-chip[data-q="3"]').click()
        page.wait_for_function("() => new URLSearchParams(location.search).get('token') === '3'", timeout=60_000)
        assert len(sent) > before  # the pin did reach Python
        page.screenshot(path=str(ARTIFACTS / "explorer-cross-attention.png"))
        page.close()


@pytest.mark.parametrize("page_name, explorer_name, first_query", [
    ("patches", "patching_explorer", "CLS"), ("early-fusion", "fusion_explorer", "[CLS]")])
def test_patching_and_early_fusion_carry_the_explorer_and_hover_paints(browser, page_name, explorer_name,
                                                                        first_query):
    with serve(str(ROOT / "app.py")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{url}/?page={page_name}")
        root = wait_for_explorer(page, explorer_name)
        assert root.locator('.aex-chip[data-q="0"]').inner_text().strip().startswith(first_query)
        paints = int(root.get_attribute("data-paints"))
        root.locator(".aex-image").hover(position={"x": 5, "y": 5})  # the top-left patch
        _settled(page, root, paints)
        bar = root.locator('.aex-chip[data-q="0"]').get_attribute("data-value")  # how much the query looked there
        assert bar and float(bar) >= 0
        page.screenshot(path=str(ARTIFACTS / f"explorer-{page_name}.png"), full_page=True)
        page.close()


def test_caption_mode_carries_the_explorer_over_the_written_words(browser):
    """Caption mode: the rows are the words the decoder wrote; hovering one repaints the image heatmap in the browser
    and a click pins it, which moves the page's decoding-step slider (a rerun)."""
    with serve(str(ROOT / "app.py")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(url + "/?page=cross-attention")
        wait_for_explorer(page, "cross_explorer")
        page.get_by_text("Caption the image").click()
        root = wait_for_explorer(page, "caption_explorer")
        words = root.locator(".aex-chip").all_inner_texts()
        assert len(words) >= 3, words  # "a red circle and ..." from the bundled captioner
        pixels = _picture_pixels(root)
        paints = int(root.get_attribute("data-paints"))
        root.locator('.aex-chip[data-q="2"]').hover()
        _settled(page, root, paints)
        assert root.get_attribute("data-hovered-token") == "2"
        assert _picture_pixels(root) != pixels  # another word, another map over the image
        root.locator('.aex-chip[data-q="2"]').click()
        page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stSliderThumbValue\"]')]"
                               ".some(e => e.textContent.startsWith('3:'))", timeout=60_000)
        page.get_by_text(f"Looking at the image to write “{words[2].strip()}”").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "explorer-caption.png"), full_page=True)
        page.close()


# ---- early fusion's two directions: text -> image and image -> text ---------------------------------------------
FUSION = "explorer_fusion"


def _lut() -> np.ndarray:
    """(256, 3) the explorer's Viridis lookup table, built as attention_explorer.js builds it."""
    stops = [(p, *(int(c[i:i + 2], 16) for i in (1, 3, 5))) for p, c in COLORSCALE_STOPS]
    out = np.zeros((256, 3))
    for i in range(256):
        t, j = i / 255, 0
        while j < len(stops) - 2 and t > stops[j + 1][0]:
            j += 1
        (p0, *c0), (p1, *c1) = stops[j], stops[j + 1]
        f = min(1, max(0, (t - p0) / (p1 - p0))) if p1 > p0 else 0
        out[i] = np.round(np.array(c0) + f * (np.array(c1) - np.array(c0)))
    return out


def _heat_levels(page, name: str) -> np.ndarray:
    """The heatmap the explorer paints over the image, one pixel per patch (its offscreen canvas), as colour-scale
    levels 0-255: each pixel's nearest Viridis entry."""
    rgb = np.array(page.evaluate(f"""() => {{ const c = window.__aex[{name!r}].heatCanvas;
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }}""")).reshape(-1, 4)[:, :3]
    return np.abs(rgb[:, None, :] - _lut()[None]).sum(axis=-1).argmin(axis=1)


@pytest.fixture(scope="module")
def fused():
    from tests.browser.explorer_app import fusion_result

    return fusion_result()


@pytest.fixture(scope="module")
def fusion_page(server, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 1500})
    page.goto(server + "/?only=fusion")
    wait_for_explorer(page, FUSION)
    page.wait_for_timeout(1500)
    yield page
    page.close()


def test_image_to_text_a_patch_shows_its_own_row_and_a_word_paints_its_column_without_a_rerun(fusion_page, fused):
    """Switch to image -> text; hover a patch: each word's bar is how much THAT patch looked at the word (the patch's
    row of ViLT's image -> text block, recomputed here with numpy, reading order); hover a word: the heatmap is how
    much each patch looked at it (a column), on the view's fixed colour scale. None of it reruns the script."""
    page, root = fusion_page, explorer(fusion_page, FUSION)
    runs = _runs(page)
    rows, cols = fused.grid
    n_text, first = fused.n_text, fused.n_text + 1
    assert root.get_attribute("data-direction") == "text->image"
    assert root.locator('.aex-pills[data-kind="direction"] .aex-pill').all_inner_texts() == ["text → image",
                                                                                               "image → text"]
    root.locator('.aex-pill[data-value="image->text"]').click()
    page.wait_for_function("(el) => el.dataset.direction === 'image->text'", arg=root.element_handle())
    matrix = fused.attentions[-1].mean(axis=0)  # (S, S): the opening view, last layer, mean over heads
    scales = fused.patch_to_text_maps().weights[-1].max(axis=(1, 2))  # each head's own quantisation step x 255
    tolerance = float(scales.max()) / 510 + 1e-6
    view_max = max(matrix[first + t, :n_text].max() for t in range(rows * cols))  # image->text block's max
    assert float(root.get_attribute("data-view-max")) == pytest.approx(view_max, abs=tolerance)  # within a step
    for index in (0, rows * cols // 2 + 1, rows * cols - 1):
        token = first + int(np.flatnonzero((fused.patch_positions[:, 0] == index // cols)
                                           & (fused.patch_positions[:, 1] == index % cols))[0])
        expected = matrix[token, :n_text]  # that patch's attention over the words (ViLT's stream order undone)
        paints = int(root.get_attribute("data-paints"))
        page.mouse.move(*_patch_centre_on(root, index, rows, cols))
        _settled(page, root, paints)
        assert root.get_attribute("data-hovered-patch") == str(index)
        bars = [float(v) for v in root.locator(".aex-chip").evaluate_all("(cs) => cs.map((c) => c.dataset.value)")]
        np.testing.assert_allclose(bars, expected, atol=tolerance)
        widths = root.locator(".aex-chip .aex-bar i").evaluate_all("(bs) => bs.map((b) => parseFloat(b.style.width))")
        assert widths[int(np.argmax(bars))] == pytest.approx(100.0)  # against the word that patch read most
        r, c = divmod(index, cols)
        best = fused.tokens[int(np.argmax(expected))]
        assert f"patch ({r}, {c}) looked most at “{best}”" in root.locator(".aex-left .aex-readout").inner_text()
    word = 2
    paints = int(root.get_attribute("data-paints"))
    root.locator(f'.aex-chip[data-q="{word}"]').hover()
    _settled(page, root, paints)
    assert root.get_attribute("data-hovered-token") == str(word)
    column = np.zeros(rows * cols)  # how much each patch looked at the word, placed by its (row, col)
    for token, (r, c) in enumerate(fused.patch_positions):
        column[r * cols + c] = matrix[first + token, word]
    expected_levels = np.round(np.minimum(1, column / view_max) * 255)
    assert np.abs(_heat_levels(page, FUSION) - expected_levels).max() <= 3  # one colour scale: the view's max
    assert column[int(root.get_attribute("data-heat-argmax"))] >= column.max() - tolerance
    assert _runs(page) == runs


def _patch_centre_on(root, index: int, rows: int, cols: int) -> tuple[float, float]:
    box = root.locator(".aex-image").bounding_box()
    r, c = divmod(index, cols)
    return box["x"] + (c + 0.5) * box["width"] / cols, box["y"] + (r + 0.5) * box["height"] / rows


def test_image_to_text_keeps_the_grid_tiles_keyboard_and_reports_the_direction_on_a_pin(fusion_page, fused):
    page, root = fusion_page, explorer(fusion_page, FUSION)
    if root.get_attribute("data-direction") != "image->text":
        root.locator('.aex-pill[data-value="image->text"]').click()
    page.wait_for_function("(el) => el.dataset.direction === 'image->text'", arg=root.element_handle())
    rows, cols = fused.grid
    back = fused.patch_to_text_maps().weights  # (L, H, patches, words)
    runs = _runs(page)
    mass = back.sum(axis=-1).mean(axis=-1)  # (L, H): the share of a patch's attention on the words
    root.locator(".aex-summary select").select_option("mass")
    page.wait_for_function("(el) => el.querySelector('.aex-sgrid').dataset.metric === 'mass'",
                           arg=root.element_handle())
    L, H = back.shape[:2]
    got = np.array(root.locator(".aex-cell").evaluate_all("(cs) => cs.map((c) => Number(c.dataset.value))"))
    np.testing.assert_allclose(got.reshape(L, H), mass, rtol=1e-5)
    assert "words" in root.locator(".aex-summarynote").inner_text()
    root.locator('.aex-pill[data-value="text->image"]').click()  # the grid follows the direction
    page.wait_for_function("(el) => el.dataset.direction === 'text->image'", arg=root.element_handle())
    text_mass = fused.text_to_patch_maps().weights.sum(axis=-1).mean(axis=-1)
    got = np.array(root.locator(".aex-cell").evaluate_all("(cs) => cs.map((c) => Number(c.dataset.value))"))
    np.testing.assert_allclose(got.reshape(L, H), text_mass, rtol=1e-5)
    root.locator('.aex-pill[data-value="image->text"]').click()
    page.wait_for_function("(el) => el.dataset.direction === 'image->text'", arg=root.element_handle())
    root.locator(".aex-summary select").select_option("entropy")
    assert root.locator(".aex-tile").count() == H and root.locator(".aex-tile canvas").first.get_attribute(
        "width") == str(cols)
    root.locator('.aex-pills[data-kind="layer"] .aex-pill[data-value="1"]').click()
    root.locator('.aex-tile[data-h="2"]').click()
    page.wait_for_function("(el) => el.dataset.head === '2' && el.dataset.layer === '1'", arg=root.element_handle())
    assert float(root.get_attribute("data-view-max")) == pytest.approx(back[1, 2].max(), rel=1e-4)
    page.mouse.move(5, 5)
    root.locator(".aex-image").focus()
    root.locator(".aex-image").press("ArrowDown")
    page.wait_for_function(f"(el) => el.dataset.pinnedKey === '{cols}'", arg=root.element_handle())
    root.locator(".aex-image").press("ArrowRight")
    page.wait_for_function(f"(el) => el.dataset.pinnedKey === '{cols + 1}'", arg=root.element_handle())
    bars = [float(v) for v in root.locator(".aex-chip").evaluate_all("(cs) => cs.map((c) => c.dataset.value)")]
    np.testing.assert_allclose(bars, back[1, 2, cols + 1], atol=float(back[1, 2].max()) / 510 + 1e-6)
    assert _runs(page) == runs  # nothing so far asked Python
    root.locator('.aex-chip[data-q="1"]').click()  # pin: word 1, the patch the keyboard chose, image -> text
    page.get_by_text('"direction": "image->text"').first.wait_for(timeout=30_000)
    pinned = json.loads(page.get_by_text("pinned explorer_fusion:").inner_text().split(":", 1)[1])
    assert pinned == {"layer": 1, "head": 2, "query": 1, "key": cols + 1, "direction": "image->text"}
    assert _runs(page) != runs
    assert root.get_attribute("data-direction") == "image->text"  # the rerun kept the explorer as it was
    page.screenshot(path=str(ARTIFACTS / "explorer-image-to-text-harness.png"), full_page=True)


def test_the_early_fusion_page_switches_to_image_to_text_in_the_browser_and_a_pin_moves_its_link(browser):
    """The real page: the direction switch and the hovers send nothing to the server; a pin in image -> text moves
    the page's layer, head, token and patch (its URL)."""
    with serve(str(ROOT / "app.py")) as url:
        page, root, sent = _open_counting_frames(browser, url, "early-fusion", "fusion_explorer")
        before = len(sent)
        root.locator('.aex-pill[data-value="image->text"]').click()
        page.wait_for_function("(el) => el.dataset.direction === 'image->text'", arg=root.element_handle())
        cols = int(root.locator(".aex-tile canvas").first.get_attribute("width"))
        rows = int(root.locator(".aex-tile canvas").first.get_attribute("height"))
        index = (rows // 2) * cols + cols // 2
        paints = int(root.get_attribute("data-paints"))
        root.locator(".aex-image").scroll_into_view_if_needed()
        page.mouse.move(*_patch_centre_on(root, index, rows, cols))
        _settled(page, root, paints)
        bars = [float(v) for v in root.locator(".aex-chip").evaluate_all("(cs) => cs.map((c) => c.dataset.value)")]
        assert len(bars) >= 3 and 0 < sum(bars) <= 1 + 1e-3  # a patch's share on the words: part of its row
        root.screenshot(path=str(ARTIFACTS / "explorer-early-fusion-image-to-text.png"))
        assert len(sent) == before  # switching and hovering asked the server for nothing
        page.mouse.click(*_patch_centre_on(root, index, rows, cols))
        page.wait_for_function(f"() => new URLSearchParams(location.search).get('patch') === '{index}'",
                               timeout=60_000)
        assert len(sent) > before  # the pin reached Python
        root = wait_for_explorer(page, "fusion_explorer")  # redrawn by the pin's rerun: slow under load (CI, 2 cores)
        query = parse_qs(urlsplit(page.url).query)
        assert query["token"] == [root.get_attribute("data-pinned-query")] and query["head"] == ["mean"]
        assert root.get_attribute("data-direction") == "image->text"
        page.close()
