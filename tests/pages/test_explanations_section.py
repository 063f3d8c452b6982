"""The cross-attention page's explanation comparison: off by default, then four maps with their claims and the
deletion / insertion curves, drawn from the numbers core computes."""
from __future__ import annotations

import numpy as np

from core.analysis import deletion, relevancy
from core.concepts import cross_attention
from core.inputs import images
from tests.models import bundled
from tests.pages.test_pages import decode, figures, heatmap_z, open_page


def test_the_toggle_draws_four_maps_and_the_curves_with_the_real_numbers():
    at = open_page("pages/cross_attention.py")
    before = len(figures(at))
    assert not at.toggle(key="cross_explain").value
    at.toggle(key="cross_explain").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    drawn = figures(at)
    assert len(drawn) == before + 5  # four maps and the curves

    vqa = bundled("vqa")
    name, question = at.selectbox(key="image_source").value, at.text_area(key="text").value
    image = images.load_image(images.sample_png(name))
    asked = cross_attention.ask(vqa.model, vqa.processor, image, question)
    expected = relevancy.explain(vqa.model, vqa.processor, image, question, asked.answer)
    token = cross_attention.naming_token(asked.tokens)  # the page's default token; last layer, mean over heads
    maps = expected.maps()
    for method in relevancy.METHODS:
        figure = next(f for f in drawn if f["layout"].get("title", {}).get("text") == relevancy.METHOD_TITLES[method])
        np.testing.assert_allclose(heatmap_z(figure), maps[method][token].reshape(asked.grid), rtol=1e-4, atol=1e-7)
    assert all(relevancy.METHOD_CLAIMS[m] in [c.value for c in at.caption] for m in relevancy.METHODS)

    curves = next(f for f in drawn if any(t.get("legendgroup") == deletion.OBJECT_MASK for t in f["data"]))
    names = {t["legendgroup"] for t in curves["data"]}
    assert names == {*relevancy.METHODS, deletion.RANDOM, deletion.OBJECT_MASK}  # a shapes sample: the oracle too
    table = next(d.value for d in at.dataframe if "order" in d.value.columns)
    assert len(table) == 6
    chefer = next(t for t in curves["data"] if t["legendgroup"] == "chefer" and t["xaxis"] == "x")
    x, y = decode(chefer["x"]), decode(chefer["y"])
    assert abs(y[0] - expected.probability) < 1e-3  # the deletion curve starts at P(answer) as asked
    area = table.iloc[list(table.iloc[:, 0]).index(relevancy.METHOD_TITLES["chefer"]), 1]
    assert area == round(deletion.area(x, y), 3) and 0 < area < 1
