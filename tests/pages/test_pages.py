"""Every page through Streamlit's AppTest, on the bundled pack: it renders the model's real output, controls change
what is shown, and bad input gives a message instead of a traceback."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.classroom.page_table import PAGE_TABLE
from core.concepts import cross_attention, early_fusion
from core.inputs import images
from core.shapes import shapes_world
from tests.conftest import ROOT
from tests.models import bundled

PAGES = [spec.script for spec in PAGE_TABLE]


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def decode(value) -> np.ndarray:
    """Plotly sends numpy arrays as typed arrays: {"dtype": "f4", "bdata": base64, "shape": "8, 8"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = tuple(int(n) for n in str(value.get("shape", len(flat))).split(","))
        return flat.reshape(shape).astype(float)
    return np.array(value, dtype=float)


def heatmap_z(figure: dict) -> np.ndarray:
    return decode(next(t for t in figure["data"] if t["type"] == "heatmap")["z"])


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_home_introduces_the_four_ideas_and_the_bundled_pack():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "Where text meets vision"
    assert all(name in at.markdown[0].value for name in ("Patching", "Cross-attention", "CLIP space", "Early fusion"))
    assert "shapes world" in at.info[0].value


def expected_on_default_image(at: AppTest, compute, role: str):
    """What core computes for the page's default image and its current question (the page must show the same)."""
    loaded = bundled(role)
    image = images.load_image(images.sample_png(at.selectbox(key="image_source").value))
    return compute(loaded.model, loaded.processor, image, at.text_area(key="text").value)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception_and_names_the_live_pack(page):
    at = open_page(page)
    assert at.title[0].value
    assert any("Live pack: **bundled**" in c.value for c in at.sidebar.caption)


def test_patching_shows_the_grid_and_layer_and_head_change_the_cls_heatmap():
    at = open_page("pages/patching.py")
    assert at.metric[0].value == "64 = 8 x 8"
    before = heatmap_z(cls_figure(at))
    assert before.shape == (8, 8)
    at.selectbox(key="patching_layer").set_value(0).run()
    after_layer = heatmap_z(cls_figure(at))
    assert not np.allclose(before, after_layer)
    at.selectbox(key="patching_head").set_value(1).run()
    assert not np.allclose(after_layer, heatmap_z(cls_figure(at)))


def figure_titled(at: AppTest, start: str) -> dict:
    return next(f for f in figures(at) if f["layout"]["title"]["text"].startswith(start))


def cls_figure(at: AppTest) -> dict:
    return figure_titled(at, "CLS -> patch attention")


def test_patching_rollout_options_and_a_chosen_patch_change_the_overlays():
    from core.attention import rollout
    from core.concepts import patching

    at = open_page("pages/patching.py")
    rolled = heatmap_z(figure_titled(at, "Attention rollout"))
    view = expected_on_default_image(at, lambda model, processor, image, _text: patching.patch_view(
        model, processor, image), "clip")
    full = rollout.rollout(view.attentions)  # (1 + N, 1 + N): each row a distribution over the input tokens
    assert np.allclose(full.sum(axis=-1), 1.0)
    assert rolled.shape == (8, 8) and np.allclose(rolled.ravel(), full[0, 1:], atol=1e-6)  # CLS's row, patches
    assert (rolled >= 0).all() and 0 < rolled.sum() < 1  # the rest of CLS's unit row stays on CLS itself
    at.slider(key="patching_discard").set_value(0.9).run()
    assert not np.allclose(rolled, heatmap_z(figure_titled(at, "Attention rollout")))
    distance = heatmap_z(figure_titled(at, "Mean attention distance"))
    assert distance.shape == (3, 4) and (distance > 0).all()
    looks = heatmap_z(figure_titled(at, "Where p("))
    at.session_state["patching_patch"] = 0
    at.run()
    assert not at.exception
    assert not np.allclose(looks, heatmap_z(figure_titled(at, "Where p(0,0)")))


def test_cross_attention_shows_the_models_answer_and_a_token_by_patch_matrix():
    at = open_page("pages/cross_attention.py")
    expected = expected_on_default_image(at, cross_attention.ask, "vqa")
    assert at.subheader[0].value == f"Answer: {expected.answer}"
    matrix = heatmap_z(figures(at)[0])
    assert matrix.shape == (len(expected.tokens), 64)
    assert np.allclose(matrix, expected.token_patch_matrix[-1].mean(axis=0), atol=1e-6)

    at.selectbox(key="cross_layer").set_value(0).run()
    assert not np.allclose(matrix, heatmap_z(figures(at)[0]))
    before = heatmap_z(figures(at)[1])
    at.segmented_control(key="cross_token").set_value(expected.tokens.index("color")).run()
    assert not np.allclose(before, heatmap_z(figures(at)[1]))


def test_a_new_question_changes_the_answer_and_the_matrix():
    at = open_page("pages/cross_attention.py")
    scene = images.sample_scene("shapes: two objects")
    at.text_area(key="text").set_value(f"what color is the {scene.objects[0].shape}?").run()
    first_answer, first = at.subheader[0].value, heatmap_z(figures(at)[0])
    at.text_area(key="text").set_value(f"what shape is the {scene.objects[1].color} object?").run()
    assert not at.exception
    assert at.subheader[0].value != first_answer
    assert not np.array_equal(first, heatmap_z(figures(at)[0]))


def test_empty_question_gives_a_message_not_a_traceback():
    at = open_page("pages/cross_attention.py")
    at.text_area(key="text").set_value("   ").run()
    assert not at.exception
    assert any("empty" in w.value for w in at.warning)


def test_early_fusion_shows_answer_and_the_joint_matrix_with_the_boundary():
    at = open_page("pages/early_fusion.py")
    expected = expected_on_default_image(at, early_fusion.fuse, "fusion")
    assert at.subheader[0].value == f"Answer: {expected.answer}"
    matrix = heatmap_z(figures(at)[0])
    size = expected.n_text + expected.n_image
    assert matrix.shape == (size, size)
    assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-5)
    annotations = {a["text"] for a in figures(at)[0]["layout"]["annotations"]}
    assert annotations == {"text->text", "text->image", "image->text", "image->image"}
    shapes = figures(at)[0]["layout"]["shapes"]
    assert {s["x0"] for s in shapes if s["x0"] == s["x1"]} == {expected.n_text - 0.5}
    at.selectbox(key="fusion_head").set_value(2).run()
    assert not np.allclose(matrix, heatmap_z(figures(at)[0]))


@pytest.mark.parametrize("data", [b"", b"GIF89a but not really", _png(Image.new("RGB", (8, 8)))[:30]])
def test_a_bad_upload_shows_a_message_and_the_page_recovers(data):
    at = open_page("pages/patching.py")
    at.selectbox(key="image_source").set_value("upload an image").run()
    at.file_uploader(key="upload").set_value(("broken.png", data, "image/png")).run()
    assert not at.exception
    assert at.sidebar.error and "image" in at.sidebar.error[0].value.lower()
    assert any("Choose an image" in i.value for i in at.info)
    at.file_uploader(key="upload").set_value(("ok.png", _png(Image.new("RGB", (90, 60), "blue")), "image/png")).run()
    assert not at.exception and not at.sidebar.error
    assert at.metric[0].value == "256 = 16 x 16"  # an upload is a photo: DINOv2 at 224 px, 14 px patches


def test_choosing_a_sample_sets_its_question_and_the_image_follows_across_pages():
    at = open_page("pages/patching.py")
    at.selectbox(key="image_source").set_value("shapes: three objects").run()
    expected_question = images.samples()["shapes: three objects"].question
    assert at.text_area(key="text").value == expected_question
    at.switch_page("pages/cross_attention.py").run()
    assert not at.exception
    assert at.selectbox(key="image_source").value == "shapes: three objects"
    assert at.text_area(key="text").value == expected_question


def test_picking_a_patch_shows_which_tokens_looked_at_it():
    at = open_page("pages/cross_attention.py")
    matrix = heatmap_z(figures(at)[0])  # (tokens, patches)
    bars = figures(at)[2]
    patch = at.selectbox(key="cross_patch").value
    assert np.allclose(decode(bars["data"][0]["y"]), matrix[:, patch], atol=1e-6)
    other = (patch + 9) % matrix.shape[1]
    at.selectbox(key="cross_patch").set_value(other).run()
    assert np.allclose(decode(figures(at)[2]["data"][0]["y"]), matrix[:, other], atol=1e-6)


def test_the_math_panel_matches_the_models_attention():
    at = open_page("pages/cross_attention.py")
    assert not any("numpy" in m.label for m in at.metric)  # closed: the block is not rerun, nothing drawn
    assert not any("softmax" in f["layout"].get("title", {}).get("text", "") for f in figures(at))
    at.session_state["cross_math"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metric = next(m for m in at.metric if "numpy" in m.label)
    assert float(metric.value) <= 1e-5
    softmax_row = next(f for f in figures(at) if "softmax" in f["layout"]["title"]["text"])
    assert np.isclose(decode(softmax_row["data"][0]["y"]).sum(), 1.0, atol=1e-5)


def test_the_grounding_table_appears_on_demand_with_its_best_cell():
    at = open_page("pages/cross_attention.py")
    assert not at.dataframe
    at.toggle(key="cross_grounding").set_value(True).run()
    assert not at.exception
    assert len(at.dataframe) == 3  # naming word, most-on-objects token, other words (the baseline)
    frame = at.dataframe[0].value
    assert list(frame.columns)[-1] == "head mean" and frame.shape == (2, 5)
    assert ((frame.to_numpy() >= 0) & (frame.to_numpy() <= 1)).all()
    from core.analysis import grounding, intervals
    from core.shapes import held_out
    vqa = bundled("vqa")
    table = grounding.grounding_table(vqa.model, vqa.processor, held_out.test_seeds(100))
    assert np.allclose(at.dataframe[2].value.to_numpy(), table.other_tokens)
    assert np.allclose(frame.to_numpy(), table.naming_word)
    caption = next(c.value for c in at.caption if c.value.startswith("Chance 50%"))
    assert f"other words ground the named object in {table.other_tokens[0, -1]:.0%}" in caption
    best = table.naming_word.max()
    assert f"with n=100 a cell of {best:.0%} means {intervals.range_with_interval(best, 100)}" in caption


def test_caption_mode_shows_the_caption_and_the_step_slider_moves_the_heatmap():
    at = open_page("pages/cross_attention.py")
    at.segmented_control(key="cross_mode").set_value("Caption the image").run()
    assert not at.exception
    scene = images.sample_scene("shapes: two objects")
    assert at.subheader[0].value.replace(" ,", ",") == f"Caption: {shapes_world.caption(scene)}"
    first = heatmap_z(figures(at)[0])
    at.select_slider(key="caption_step").set_value(1).run()
    assert not np.allclose(first, heatmap_z(figures(at)[0]))


def test_masking_panel_compares_top_patches_with_random_ones():
    at = open_page("pages/cross_attention.py")
    assert not any("random patches hidden" in m.label for m in at.metric)  # 7 forwards: only when asked
    at.toggle(key="cross_masking").set_value(True).run()
    labels = [m.label for m in at.metric]
    assert any("top-4 attended patches hidden" in label for label in labels)
    assert any("random patches hidden" in label for label in labels)
    before = [m.value for m in at.metric]
    at.slider(key="cross_mask_k").set_value(8).run()
    assert not at.exception and [m.value for m in at.metric] != before


def test_step_through_goes_from_image_to_patches_to_each_tokens_heatmap():
    at = open_page("pages/cross_attention.py")
    stage = at.select_slider(key="cross_steps_stage")
    assert stage.value == 0 and at.image  # the image stage shows the model's input image
    n_charts = len(figures(at))
    stage.set_value(1).run()
    assert len(figures(at)) == n_charts + 1  # the patch grid
    matrix = heatmap_z(figures(at)[0])
    at.select_slider(key="cross_steps_stage").set_value(3 + 1).run()  # token 1's heatmap ("what")
    assert at.segmented_control(key="cross_token").value != 1  # so the main heatmap is not token 1's
    assert any(np.allclose(heatmap_z(f).ravel(), matrix[1]) for f in figures(at) if
               any(t["type"] == "heatmap" for t in f["data"]) and heatmap_z(f).shape == (8, 8))


def test_step_through_ends_with_the_answer_token_seen_through_the_question():
    at = open_page("pages/cross_attention.py")
    stage = at.select_slider(key="cross_steps_stage")
    last = stage.options[-1]
    assert "answer" in last and "via the question" in last
    stage.set_value(len(stage.options) - 1).run()
    assert not at.exception
    assert any("composed attention" in f["layout"]["title"]["text"] for f in figures(at))


def test_early_fusion_token_click_moves_the_heatmap_and_mass_comes_from_the_model():
    at = open_page("pages/early_fusion.py")
    expected = expected_on_default_image(at, early_fusion.fuse, "fusion")
    mass = early_fusion.cross_modal_mass(expected.attentions, expected.n_text)
    chart = next(f for f in figures(at) if "layer by layer" in f["layout"]["title"]["text"])
    lines = {t["name"]: decode(t["y"]) for t in chart["data"] if t.get("mode") == "lines+markers"}
    assert np.allclose(lines["text->image (head mean)"], mass.text_to_image.mean(axis=1), atol=1e-6)
    heat = next(f for f in figures(at) if "looked in the image" in f["layout"]["title"]["text"])
    before = heatmap_z(heat)
    at.segmented_control(key="fusion_token").set_value(1).run()
    assert not at.exception
    after = heatmap_z(next(f for f in figures(at) if "looked in the image" in f["layout"]["title"]["text"]))
    assert not np.allclose(before, after)


def test_early_fusion_question_change_changes_the_answer():
    at = open_page("pages/early_fusion.py")
    scene = images.sample_scene("shapes: two objects")
    answers = set()
    for obj in scene.objects:
        at.text_area(key="text").set_value(f"what color is the {obj.shape}?").run()
        answers.add(at.subheader[0].value)
    assert not at.exception and len(answers) == 2


def test_the_three_designs_table_and_audio_illustration_follow_the_input():
    at = open_page("pages/early_fusion.py")
    at.toggle(key="fusion_designs").set_value(True).run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert list(table["design"]) == ["late fusion", "cross-attention", "early fusion"]
    assert (table["image tokens"] == 65).all() and "GFLOP" in table.columns and "latency (ms)" in table.columns
    answers = [m for m in at.metric if m.label.split(":")[0] in ("late fusion", "cross-attention", "early fusion")]
    assert [m.value for m in answers] == list(table["answer"]) and len(answers) == 3
    from components.service import models

    fused = models.fuse("bundled", images.sample_png("shapes: two objects"), at.text_area(key="text").value)
    assert answers[2].value.startswith(fused.answer)  # ViLT's answer here is the page's own
    before = [m.value for m in at.markdown]
    at.slider(key="designs_audio").set_value(10.0).run()
    assert any("**500 audio**" in m.value for m in at.markdown) and [m.value for m in at.markdown] != before


