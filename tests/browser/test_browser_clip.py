"""The CLIP space page in a real browser: a box drawn around one point of the projection picks that point, and its
nearest neighbours follow (Streamlit reports box selections; single clicks on markers it does not, DESIGN.md)."""
from __future__ import annotations

from tests.browser.test_browser import (  # noqa: F401
    ARTIFACTS,
    _assert_no_exception,
    _wait_until_idle,
    browser,
    open_page,
    server,
)

POINTS_JS = """() => {
  const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(p => (p.layout.title.text || '').includes('of image and caption embeddings'));
  gd.scrollIntoView();
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  const pixels = (trace) => Array.from(trace.x).map((x, i) =>
    [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(trace.y[i])]);
  return {images: pixels(gd._fullData[1]), captions: pixels(gd._fullData[2])};
}"""


def test_a_box_around_a_caption_picks_it_and_shows_its_neighbours(server, browser):  # noqa: F811
    page = open_page(browser, server, "CLIP space", height=1400)
    page.get_by_text("PCA of image and caption embeddings").first.wait_for(timeout=120_000)
    page.get_by_text("Nearest to image 0").wait_for(timeout=120_000)  # the default: the sidebar image
    _wait_until_idle(page)  # under load the title can paint before the rest of the run: drag on the final figure
    assert page.get_by_text("Nearest to image 0").count() == 1
    points = page.evaluate(POINTS_JS)
    everything = points["images"] + points["captions"]
    # a caption with no other point within 14 px, so the box holds it alone
    lonely = next(k for k, (x, y) in enumerate(points["captions"])
                  if sum(abs(x - u) < 14 and abs(y - v) < 14 for u, v in everything) == 1)
    x, y = points["captions"][lonely]
    page.mouse.move(x - 10, y - 10)
    page.mouse.down()
    page.mouse.move(x, y, steps=4)
    page.mouse.move(x + 10, y + 10, steps=4)
    page.mouse.up()
    page.get_by_text(f"Nearest to caption {lonely}").wait_for(timeout=120_000)
    _wait_until_idle(page)
    _assert_no_exception(page, "CLIP space after a box selection")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "clip-space-box-selection.png"))
    page.close()
