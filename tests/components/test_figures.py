"""Figures built without plotly.py's validation (components/frozen_figure.plain_figure) must be exactly what the
validated path would send: rebuild each with validation and compare the JSON."""
import io
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from PIL import Image

from components.figures.attention_matrix import attention_matrix
from components.figures.box_share import box_share_chart
from components.figures.mass_chart import mass_chart
from components.figures.patch_overlay import patch_overlay
from components.figures.projection_plot import projection_plot
from components.figures.token_bars import token_bars
from core.attention.patch_grid import PatchGrid
from core.concepts.early_fusion import ModalityMass

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 255, (64, 96, 3), dtype=np.uint8)
GRID = PatchGrid(IMAGE, 16, 4, 6)


def validated(fig: go.Figure) -> dict:
    return json.loads(pio.to_json(go.Figure(fig.to_dict())))  # raises on any invalid property


@pytest.mark.parametrize("fig", [
    patch_overlay(GRID, RNG.random((4, 6)).astype(np.float32), title="where", value_label="cosine"),
    patch_overlay(GRID),
    patch_overlay(GRID, RNG.random((4, 6)).astype(np.float32), box=(8.0, 4.0, 40.5, 30.0)),
    box_share_chart(np.array([0.2, 0.5, 0.7], np.float32), 0.3, title="box"),
    attention_matrix(RNG.random((3, 5)), ["a", "b", "a"], list("vwxyz"), title="m", boundaries=[("x", 1.5), ("y", 0.5)],
                     block_labels=[(0.5, 0.5, "text->text")]),
    attention_matrix(RNG.random((2, 2)), ["q1", "q2"], ["k1", "k2"], cells=[(0, 0), (1, 1)]),
    token_bars(RNG.random(3).astype(np.float32), ["what", "<b>is</b>", "it"], title="bars", value_label="p"),
    mass_chart(ModalityMass(RNG.random((4, 3)), RNG.random((4, 3))), title="mass"),
    projection_plot(RNG.random((3, 2)), ["cat", "<i>dog</i>", "sun"], RNG.random((4, 2)), ["a", "b", "c", "extra"],
                    [(0, 0), (1, 1), (2, 2)], title="PCA", thumbnails=["data:image/png;base64,AAAA"] * 3,
                    image_captions=["a", "b", "c"], chosen=("caption", 3), neighbours=[("image", 0)]),
    projection_plot(RNG.random((3, 3)), ["cat", "dog", "sun"], RNG.random((3, 3)), ["a", "b", "c"],
                    [(0, 0), (1, 1), (2, 2)], title="UMAP", axis_label="UMAP"),
], ids=["overlay", "grid only", "overlay with a box", "box share", "matrix with blocks", "plain matrix", "token bars", "mass chart", "projection 2-D",
        "projection 3-D"])
def test_unvalidated_figures_send_the_same_json_as_validated_ones(fig):
    assert json.loads(pio.to_json(fig, validate=False)) == validated(fig)


def test_equal_arguments_give_the_same_figure_and_different_ones_a_new_one():
    values = RNG.random((4, 6)).astype(np.float32)
    first = patch_overlay(GRID, values, title="layer 3")
    assert patch_overlay(PatchGrid(IMAGE.copy(), 16, 4, 6), values.copy(), title="layer 3") is first  # by value, not identity
    changed = values.copy()
    changed[2, 3] += 0.5
    for other in (patch_overlay(GRID, changed, title="layer 3"),  # one patch's value
                  patch_overlay(GRID, values, title="layer 4"),  # the title
                  patch_overlay(GRID, values.astype(np.float64), title="layer 3")):  # the dtype
        assert other is not first
    assert json.loads(pio.to_json(patch_overlay(GRID, changed, title="layer 3"), validate=False))[
        "data"][1]["z"] != json.loads(pio.to_json(first, validate=False))["data"][1]["z"]


def test_a_shared_figure_refuses_changes_but_a_copy_can_be_extended():
    fig = attention_matrix(RNG.random((2, 2)), ["q1", "q2"], ["k1", "k2"], title="m")
    with pytest.raises(TypeError, match="shared"):
        fig.add_shape(type="rect", x0=-0.5, x1=0.5, y0=-0.5, y1=0.5)
    with pytest.raises(TypeError, match="shared"):
        fig.update_layout(title=dict(text="changed"))
    copy = go.Figure(fig)
    copy.add_shape(type="rect", x0=-0.5, x1=0.5, y0=-0.5, y1=0.5)
    assert validated(copy)["layout"]["shapes"][0]["type"] == "rect"
    assert "shapes" not in json.loads(pio.to_json(fig, validate=False))["layout"]  # the shared one is untouched


def test_the_dict_streamlit_asks_for_on_every_rerun_is_made_once_and_its_top_level_is_private():
    fig = token_bars(RNG.random(3).astype(np.float32), ["a", "b", "c"], title="once")
    first, second = fig.to_dict(), fig.to_dict()
    assert first == second and first["data"] is second["data"]  # computed once, shared underneath
    first["layout"] = {}  # a caller replacing a top-level key does not reach the cached dict
    assert fig.to_dict()["layout"]["title"]["text"] == "once"


def test_overlays_carry_photos_as_jpeg_and_drawn_scenes_as_png():
    from core.inputs import images
    for name, kind in [("photo: cat", "jpeg"), ("shapes: two objects", "png")]:
        pixels = np.asarray(images.load_image(images.sample_png(name)).resize((224, 224)))
        source = patch_overlay(PatchGrid(pixels, 32, 7, 7)).to_dict()["data"][0]["source"]
        assert source.startswith(f"data:image/{kind};base64,"), name
        if kind == "jpeg":  # the point of it: the cat as PNG is ~5x the bytes, and it is sent once per overlay
            png = io.BytesIO()
            Image.fromarray(pixels).save(png, format="PNG")
            assert len(source) * 3 < len(png.getvalue())  # base64 JPEG under a third of the raw PNG


def test_pictures_are_sent_at_the_size_shown():
    from components.figures.pictures import enlarged_png, picture_png
    from core.inputs import images
    patch = IMAGE[:16, :16]
    big = Image.open(io.BytesIO(enlarged_png(patch, 48)))
    assert big.size == (48, 48) and big.format == "PNG"
    assert np.array_equal(np.asarray(big)[::3, ::3], patch)  # nearest neighbour: each pixel a 3 x 3 block
    assert Image.open(io.BytesIO(picture_png(IMAGE, 40))).size == (40, 27)
    assert Image.open(io.BytesIO(picture_png(IMAGE, 200))).size == (96, 64)  # never enlarged
    cat = images.sample_png("photo: cat")
    small = Image.open(io.BytesIO(images.thumbnail_png(cat, 160)))
    assert small.width == 160 and small.format == "PNG"
