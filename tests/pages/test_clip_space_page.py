"""The CLIP space page through AppTest on the bundled pack: the matrix follows the gallery and the captions, the
projections switch without re-embedding, and the page's numbers are the model's own."""
from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from components.sections import live_training
from components.service import clip_source
from components.widgets import export as export_component
from core.analysis import intervals
from core.classroom import export as core_export
from core.classroom import presets
from core.concepts import clip_space, gallery
from core.shapes import held_out, live_clip
from tests.models import bundled
from tests.pages.test_pages import decode, figures, heatmap_z, open_page


def figure_titled(at, words: str) -> dict:
    return next(f for f in figures(at) if words in f["layout"].get("title", {}).get("text", ""))


def captions_of(at) -> list[str]:
    return [c.strip() for c in at.text_area(key="clip_captions").value.splitlines() if c.strip()]


def projection_points(figure: dict) -> np.ndarray:
    """(images + captions, dims) from the image and caption traces (curves 1 and 2)."""
    traces = figure["data"][1:3]
    axes = ("x", "y", "z") if traces[0]["type"] == "scatter3d" else ("x", "y")
    return np.vstack([np.stack([decode(t[a]) for a in axes], axis=1) for t in traces])


@pytest.fixture
def clip_page():
    return open_page("pages/clip_space.py")


def test_gallery_has_at_least_eight_images_and_the_matrix_follows_caption_edits(clip_page):
    at = clip_page
    n_images = 1 + len(at.multiselect(key="clip_gallery").value)
    assert n_images >= gallery.MIN_GALLERY
    sim = heatmap_z(figure_titled(at, "Cosine similarity"))
    assert sim.shape == (n_images, len(captions_of(at)))
    edited = captions_of(at)
    edited[1] = "a green square"
    at.text_area(key="clip_captions").set_value("\n".join(edited)).run()
    after = heatmap_z(figure_titled(at, "Cosine similarity"))
    assert after.shape == sim.shape
    assert not np.allclose(after[:, 1], sim[:, 1]) and np.allclose(np.delete(after, 1, 1), np.delete(sim, 1, 1))
    at.text_area(key="clip_captions").set_value("a red circle\na blue square").run()
    assert heatmap_z(figure_titled(at, "Cosine similarity")).shape == (n_images, 2)


def test_removing_an_image_keeps_the_other_edited_captions(clip_page):
    at = clip_page
    edited = captions_of(at)
    edited[2] = "my own words"
    at.text_area(key="clip_captions").set_value("\n".join(edited)).run()
    gallery_names = at.multiselect(key="clip_gallery").value
    at.multiselect(key="clip_gallery").set_value(gallery_names[:1] + gallery_names[2:]).run()  # drop image 2
    assert "my own words" not in captions_of(at)  # its caption left with it
    at.multiselect(key="clip_gallery").set_value(gallery_names).run()
    assert captions_of(at)[2] == gallery.catalogue()[gallery_names[1]].caption  # back, with its default caption
    edited = captions_of(at)
    edited[1] = "kept through a gallery change"
    at.text_area(key="clip_captions").set_value("\n".join(edited)).run()
    at.multiselect(key="clip_gallery").set_value(gallery_names[:-1]).run()
    assert captions_of(at)[1] == "kept through a gallery change"


def test_logits_are_cosine_times_the_learned_scale(clip_page):
    at = clip_page
    cosine = heatmap_z(figure_titled(at, "Cosine similarity"))
    at.radio(key="clip_matrix_values").set_value(at.radio(key="clip_matrix_values").options[1]).run()
    logits = heatmap_z(figure_titled(at, "Logits"))
    scale = bundled("clip").model.logit_scale.exp().item()
    assert np.allclose(logits, cosine * scale, atol=1e-3)


def test_switching_projection_changes_the_figure_without_re_embedding(clip_page, monkeypatch):
    at = clip_page
    calls = []
    original = clip_space.embed
    monkeypatch.setattr(clip_space, "embed", lambda *a, **k: calls.append(1) or original(*a, **k))
    pca = projection_points(figure_titled(at, "of image and caption embeddings"))
    n_items = 1 + len(at.multiselect(key="clip_gallery").value) + len(captions_of(at))
    assert pca.shape == (n_items, 2)
    shown = {"PCA": pca}
    for method in ("t-SNE", "UMAP"):
        at.segmented_control(key="clip_projection").set_value(method).run()
        assert not at.exception, [e.value for e in at.exception]
        figure = figure_titled(at, f"{method} of image and caption embeddings")
        shown[method] = projection_points(figure)
        assert shown[method].shape == (n_items, 2)
    at.segmented_control(key="clip_dims").set_value("3D").run()
    figure = figure_titled(at, "UMAP of image and caption embeddings")
    assert figure["data"][1]["type"] == "scatter3d" and projection_points(figure).shape == (n_items, 3)
    assert not np.allclose(shown["PCA"], shown["t-SNE"]) and not np.allclose(shown["t-SNE"], shown["UMAP"])
    assert calls == []  # every switch was a cache hit on the embeddings


def test_thumbnails_hover_captions_and_nearest_neighbours_of_a_chosen_point(clip_page):
    at = clip_page
    figure = figure_titled(at, "of image and caption embeddings")
    n_images = 1 + len(at.multiselect(key="clip_gallery").value)
    assert len(figure["layout"]["images"]) == n_images
    assert all(image["source"].startswith("data:image/png;base64,") for image in figure["layout"]["images"])
    assert figure["data"][1]["customdata"][0][1] == captions_of(at)[0]  # an image's hover shows its caption
    option = next(o for o in at.selectbox(key="clip_point").options if o.startswith("caption 3:"))
    at.selectbox(key="clip_point").set_value(option).run()
    table = at.dataframe[0].value
    assert len(table) == 5 and list(table["cosine"]) == sorted(table["cosine"], reverse=True)
    assert not ((table["kind"] == "caption") & (table["index"] == 3)).any()
    rings = next(t for t in figure_titled(at, "of image and caption embeddings")["data"]
                 if t["name"] == "chosen + neighbours")
    assert len(decode(rings["x"])) == 6


def test_the_pages_infonce_equals_clips_own_loss_at_its_temperature(clip_page):
    at = clip_page
    captions = captions_of(at)
    n = min(len(captions), 1 + len(at.multiselect(key="clip_gallery").value))
    scale = bundled("clip").model.logit_scale.exp().item()
    at.slider(key="clip_temperature").set_value(round(1 / scale, 3)).run()
    shown = float(next(m for m in at.metric if m.label == "InfoNCE (mean)").value)
    clip = bundled("clip")
    names = [at.selectbox(key="image_source").value] + at.multiselect(key="clip_gallery").value
    pictures = [clip_space_image(name) for name in names[:n]]
    inputs = clip.processor(images=pictures, text=captions[:n], return_tensors="pt", padding=True)
    with torch.inference_mode():
        own = float(clip.model(**inputs, return_loss=True).loss)
    temperature_rounding = abs(round(1 / scale, 3) - 1 / scale) * scale * 4  # the slider's 0.001 step
    assert abs(shown - own) <= 1e-3 + temperature_rounding


def clip_space_image(name: str):
    from core.inputs import images
    return images.load_image(gallery.catalogue()[name].png if name in gallery.catalogue() else images.sample_png(name))


def test_text_to_patch_similarity_is_a_grid_that_follows_the_caption(clip_page):
    at = clip_page
    first = heatmap_z(figure_titled(at, "cosine(patch token"))
    assert first.shape == (8, 8)
    at.selectbox(key="clip_patch_text").set_value(3).run()
    assert not np.allclose(first, heatmap_z(figure_titled(at, "cosine(patch token")))
    assert any("only ever trained the CLS path" in c.value for c in at.caption)
    clip = bundled("clip")
    share = held_out.patch_probe_grounding(clip.model, clip.processor,
                                           held_out.test_seeds(clip_source.PROBE_SCENES))
    with_interval = intervals.share_with_interval(share, clip_source.PROBE_SCENES)  # "73% (64-81%, n=100)"
    assert any(f"other object's in {with_interval} of them" in c.value for c in at.caption)


def test_live_training_button_trains_and_the_page_can_use_the_result(clip_page, monkeypatch):
    monkeypatch.setattr(live_training, "CONFIG", live_clip.LiveConfig(max_steps=12, report_every=4))
    monkeypatch.setattr(live_training, "HELD_OUT_SCENES", 20)
    at = clip_page
    before = heatmap_z(figure_titled(at, "Cosine similarity"))
    at.button(key="live_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key="clip_use_live").value  # switched on after training
    assert any("your mini-CLIP (12 steps" in c.value for c in at.caption)
    accuracy = next(m for m in at.metric if m.label == "Zero-shot on held-out scenes")
    assert accuracy.value.endswith("%")
    assert not np.allclose(before, heatmap_z(figure_titled(at, "Cosine similarity")))  # a different model
    at.toggle(key="clip_use_live").set_value(False).run()
    assert np.allclose(before, heatmap_z(figure_titled(at, "Cosine similarity")))
    assert isinstance(at.session_state[clip_source.LIVE_STATE], clip_source.LiveRun)


def test_infonce_follows_temperature_and_centring_moves_the_points(clip_page):
    at = clip_page
    before = next(m for m in at.metric if m.label == "InfoNCE (mean)").value
    at.slider(key="clip_temperature").set_value(1.0).run()
    assert next(m for m in at.metric if m.label == "InfoNCE (mean)").value != before
    projection = projection_points(figure_titled(at, "of image and caption embeddings"))
    at.toggle(key="clip_centre").set_value(True).run()
    assert not at.exception
    moved = projection_points(figure_titled(at, "of image and caption embeddings"))
    assert not np.allclose(projection, moved)
    assert any("The toggle has removed the modality gap" in c.value for c in at.caption)


def test_zero_shot_bars_follow_classes_and_templates(clip_page):
    at = clip_page
    probabilities = decode(figure_titled(at, "ensembled")["data"][0]["y"])
    assert np.isclose(probabilities.sum(), 1.0, atol=1e-5) and len(probabilities) == 6
    at.text_input(key="clip_classes").set_value("red triangle, green circle, blue square").run()
    assert len(decode(figure_titled(at, "ensembled")["data"][0]["y"])) == 3
    at.multiselect(key="clip_templates").set_value(["a {}", "a photo of a {}."]).run()
    assert not at.exception
    assert figure_titled(at, "2 template(s)")


def test_a_caption_past_clips_token_limit_is_cut_with_a_note(clip_page):
    at = clip_page
    long_caption = " ".join(["a red circle and a blue square"] * 12)  # ~85 tokens, the bundled CLIP reads 32
    at.text_area(key="clip_captions").set_value("a red circle\n" + long_caption).run()
    assert not at.exception
    assert any("Caption 1: The text is too long" in c.value for c in at.caption)
    assert heatmap_z(figure_titled(at, "Cosine similarity")).shape[1] == 2


def test_a_gallery_preset_loads_its_images_captions_and_says_which_caption_is_confusing(clip_page):
    at = clip_page
    preset = presets.clip_galleries()[0]
    at.button(key="clip_presets_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="image_source").value == preset.images[0]
    assert at.multiselect(key="clip_gallery").value == list(preset.images[1:])
    assert captions_of(at) == list(preset.captions)
    assert any(f"caption {preset.confusing} is the confusing one" in i.value for i in at.info)
    assert heatmap_z(figure_titled(at, "Cosine similarity")).shape == (len(preset.images), len(preset.captions))


def test_predict_first_hides_the_matrix_until_a_caption_is_guessed(clip_page):
    at = clip_page
    at.toggle(key="clip_predict").set_value(True).run()
    assert not at.exception
    assert not [f for f in figures(at) if "Cosine similarity" in f["layout"]["title"]["text"]]  # hidden
    guess = at.radio(key="clip_q_guess").options[0]
    at.radio(key="clip_q_guess").set_value(guess).run()
    at.button(key="clip_q_reveal").click().run()
    similarity = heatmap_z(figure_titled(at, "Cosine similarity"))
    verdict = (at.success or at.info)[0].value
    best = captions_of(at)[int(similarity[0].argmax())]
    assert best in verdict


def test_the_exports_carry_the_shown_matrix_and_embeddings_with_labels(clip_page, monkeypatch):
    at = clip_page
    seen = {}
    monkeypatch.setattr(export_component, "export_matrix",
                        lambda matrix, rows, cols, stem, **k: seen.update(matrix=(matrix, rows, cols, stem)))
    monkeypatch.setattr(export_component, "export_embeddings",
                        lambda ie, il, te, tl, stem, **k: seen.update(embeddings=(ie, il, te, tl, stem)))
    at.radio(key="clip_matrix_values").set_value(at.radio(key="clip_matrix_values").options[1]).run()
    matrix, rows, cols, stem = seen["matrix"]
    assert np.allclose(matrix, heatmap_z(figure_titled(at, "Logits")), atol=1e-4)
    assert cols == captions_of(at) and rows[0] == at.selectbox(key="image_source").value and len(rows) == len(matrix)
    table = list(csv.reader(io.StringIO(core_export.matrix_csv(matrix, rows, cols, "image \\ caption").decode())))
    assert table[0][1:] == cols and [r[0] for r in table[1:]] == rows
    assert np.allclose(np.array([r[1:] for r in table[1:]], dtype=float), matrix, atol=1e-3)
    image_embeds, image_labels, text_embeds, text_labels, _ = seen["embeddings"]
    assert image_embeds.shape == (len(rows), 64) and text_embeds.shape == (len(cols), 64)
    assert image_labels == rows and text_labels == cols


def test_gallery_uploads_join_the_space_and_a_bad_one_only_costs_its_own_message(clip_page):
    at = clip_page
    n_images = heatmap_z(figure_titled(at, "Cosine similarity")).shape[0]
    good = io.BytesIO()
    Image.new("RGB", (90, 60), "blue").save(good, format="PNG")
    at.file_uploader(key="clip_uploads").set_value([("blue.png", good.getvalue(), "image/png"),
                                                     ("broken.png", b"not an image", "image/png")]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert heatmap_z(figure_titled(at, "Cosine similarity")).shape[0] == n_images + 1
    assert any(e.value.startswith("broken.png: ") for e in at.error)
    assert "upload: blue.png" in figure_titled(at, "Cosine similarity")["data"][0]["y"][-1]


def test_the_modality_gap_is_drawn_with_both_centroids_and_measured_with_and_without_centring(clip_page):
    gap_figure = figure_titled(clip_page, "The modality gap")
    images, captions, image_centroid, caption_centroid = (
        np.stack([decode(t["x"]), decode(t["y"])], axis=1) for t in gap_figure["data"][:4])
    assert np.allclose(image_centroid[0], images.mean(axis=0)) and np.allclose(caption_centroid[0],
                                                                               captions.mean(axis=0))
    arrow = gap_figure["layout"]["annotations"][0]
    assert np.allclose([arrow["ax"], arrow["ay"]], image_centroid[0]) and np.allclose([arrow["x"], arrow["y"]],
                                                                                      caption_centroid[0])
    assert re.fullmatch(r"gap [01]\.\d\d", gap_figure["layout"]["annotations"][1]["text"])  # unit vectors: under 2
    gallery_metric = next(m for m in clip_page.metric if "its own caption" in m.label)
    assert gallery_metric.value.endswith("%") and "with the gap closed" in gallery_metric.delta
    clip = bundled("clip")
    acc, centred, n = held_out.clip_zero_shot_centring(clip.model, clip.processor, held_out.test_seeds(n := 100))
    assert np.isclose(acc, held_out.clip_zero_shot(clip.model, clip.processor, held_out.test_seeds(n)))
    zero_shot = next(m for m in clip_page.metric if "held-out scenes" in m.label)
    assert zero_shot.value == f"{acc:.0%}" and f"centred: {centred:.0%}" in zero_shot.delta
    assert any(f"Held-out zero-shot {intervals.share_with_interval(acc, n)}; centred "
               f"{intervals.share_with_interval(centred, n)}" in c.value for c in clip_page.caption)
