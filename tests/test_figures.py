"""Figures built without plotly.py's validation (components/patch_overlay.plain_figure) must be exactly what the
validated path would send: rebuild each with validation and compare the JSON."""
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from components.attention_matrix import attention_matrix
from components.mass_chart import mass_chart
from components.patch_overlay import patch_overlay
from components.projection_plot import projection_plot
from components.token_bars import token_bars

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 255, (64, 96, 3), dtype=np.uint8)


def validated(fig: go.Figure) -> dict:
    return json.loads(pio.to_json(go.Figure(fig.to_dict())))  # raises on any invalid property


@pytest.mark.parametrize("fig", [
    patch_overlay(IMAGE, 16, (4, 6), RNG.random((4, 6)).astype(np.float32), title="where", value_label="cosine"),
    patch_overlay(IMAGE, 16, (4, 6)),
    attention_matrix(RNG.random((3, 5)), ["a", "b", "a"], list("vwxyz"), title="m", boundaries=[("x", 1.5), ("y", 0.5)],
                     block_labels=[(0.5, 0.5, "text->text")]),
    attention_matrix(RNG.random((2, 2)), ["q1", "q2"], ["k1", "k2"], cells=[(0, 0), (1, 1)]),
    token_bars(RNG.random(3).astype(np.float32), ["what", "<b>is</b>", "it"], title="bars", value_label="p"),
    mass_chart({"text->image": RNG.random((4, 3)), "image->text": RNG.random((4, 3))}, title="mass"),
    projection_plot(RNG.random((3, 2)), ["cat", "<i>dog</i>", "sun"], RNG.random((4, 2)), ["a", "b", "c", "extra"],
                    [(0, 0), (1, 1), (2, 2)], title="PCA", thumbnails=["data:image/png;base64,AAAA"] * 3,
                    image_captions=["a", "b", "c"], chosen=("caption", 3), neighbours=[("image", 0)]),
    projection_plot(RNG.random((3, 3)), ["cat", "dog", "sun"], RNG.random((3, 3)), ["a", "b", "c"],
                    [(0, 0), (1, 1), (2, 2)], title="UMAP", axis_label="UMAP"),
], ids=["overlay", "grid only", "matrix with blocks", "plain matrix", "token bars", "mass chart", "projection 2-D",
        "projection 3-D"])
def test_unvalidated_figures_send_the_same_json_as_validated_ones(fig):
    assert json.loads(pio.to_json(fig, validate=False)) == validated(fig)


def test_a_figure_can_still_be_extended_after_it_is_built():
    fig = attention_matrix(RNG.random((2, 2)), ["q1", "q2"], ["k1", "k2"], title="m")
    fig.add_shape(type="rect", x0=-0.5, x1=0.5, y0=-0.5, y1=0.5)  # the CLIP page boxes the matched pairs
    assert validated(fig)["layout"]["shapes"][0]["type"] == "rect"
