"""The four explanation methods at a ViT's CLS row (core/analysis/relevancy_vision.py): each method by hand on a
tiny case and against an independent loop, then the CLIP adapter on the bundled tiny tower and a shapes scene."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.analysis import relevancy, relevancy_vision
from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN
from core.attention.patch_grid import PatchGrid
from core.concepts.patching import patch_view, photo_patch_view
from core.inputs import images
from core.models import dinov2
from core.shapes import shapes_world
from tests.models import bundled

PROMPTS = [prompt for _, prompt in shapes_world.class_prompts()]
GRID_1x2 = PatchGrid(np.zeros((2, 4, 3), np.uint8), 2, 1, 2)  # two patches side by side


# --- the maths by hand ---------------------------------------------------------------------------------------------

def _two_layers() -> tuple[np.ndarray, np.ndarray]:
    """(L 2, H 1, S 3, S 3): CLS + two patches, with a gradient that keeps or flips chosen weights."""
    a0 = [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    a1 = [[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    attentions = np.array([[a0], [a1]])
    gradients = np.ones_like(attentions)
    gradients[1, 0, 0, 2] = -4.0  # layer 1: CLS -> patch 1 lowers y, so (dA * A)^+ drops it
    return attentions, gradients


def test_each_method_on_a_hand_computed_two_layer_case():
    attentions, gradients = _two_layers()
    explained = relevancy_vision.from_maps(attentions, gradients, GRID_1x2, "y", 1.0)
    maps = explained.maps(layer=1, head=0)
    np.testing.assert_allclose(maps["raw"], [0.25, 0.25])  # layer 1's CLS row, the CLS column dropped
    np.testing.assert_allclose(explained.maps(layer=0, head=0)["raw"], [0.5, 0.0])
    np.testing.assert_allclose(maps["grad_x_attention"], [0.25, 0.0])  # (1 * .25)^+, (-4 * .25)^+ = 0
    np.testing.assert_allclose(explained.grad_x_attention(0), [0.5, 0.0])
    np.testing.assert_allclose(explained.grad_x_attention(LAYER_MEAN), [0.375, 0.0])
    # rollout: M_l = rownorm(.5 A_l + .5 I). M0 row 0 = [.75, .25, 0]; M1 row 0 = [.75, .125, .125];
    # patches stay put in both layers, so (M1 M0) row 0 = .75 * [.75, .25, 0] + [0, .125, .125]
    np.testing.assert_allclose(maps["rollout"], [0.75 * 0.25 + 0.125, 0.125])
    # Chefer: R0 = I + Abar0, row 0 = [1.5, .5, 0]; Abar1 row 0 = [.5, .25, 0] (patch 1 clipped), patch rows = e_i;
    # R1 = R0 + Abar1 R0: row 0 += .5 * [1.5, .5, 0] + .25 * [0, 2, 0] = [.75, .75, 0] -> [2.25, 1.25, 0]
    np.testing.assert_allclose(maps["chefer"], [1.25, 0.0])


def test_cls_relevancy_is_row_zero_of_joint_relevancy():
    rng = np.random.default_rng(1)
    attentions = rng.dirichlet(np.ones(6), size=(4, 3, 6))  # (L 4, H 3, S 6, S 6), rows sum to 1
    gradients = rng.normal(size=attentions.shape)
    full = relevancy.joint_relevancy(attentions, gradients)
    np.testing.assert_allclose(relevancy_vision.cls_relevancy(attentions, gradients), full[0])
    np.testing.assert_allclose(relevancy_vision.cls_relevancy(attentions, gradients, token=3), full[3])


def test_every_method_matches_an_independent_loop_on_random_maps():
    rng = np.random.default_rng(0)
    n_layers, n_heads, size = 3, 2, 5  # CLS + 4 patches on a 2 x 2 grid
    attentions = rng.dirichlet(np.ones(size), size=(n_layers, n_heads, size))
    gradients = rng.normal(size=attentions.shape)
    grid = PatchGrid(np.zeros((4, 4, 3), np.uint8), 2, 2, 2)
    explained = relevancy_vision.from_maps(attentions, gradients, grid, "y", 0.0)
    # raw, one head and the head max, by index
    for head in range(n_heads):
        assert np.array_equal(explained.maps(1, head)["raw"], attentions[1, head, 0, 1:])
    np.testing.assert_allclose(explained.maps(2, HEAD_MAX)["raw"], attentions[2, :, 0, 1:].max(axis=0))
    # gradient x attention and Chefer, entry by entry
    cams = np.zeros((n_layers, size, size))
    for layer in range(n_layers):
        for h in range(n_heads):
            for q in range(size):
                for k in range(size):
                    cams[layer, q, k] += max(gradients[layer, h, q, k] * attentions[layer, h, q, k], 0.0) / n_heads
    for layer in range(n_layers):
        np.testing.assert_allclose(explained.grad_x_attention(layer), cams[layer, 0, 1:])
    relevance = np.eye(size)
    for layer in range(n_layers):
        relevance = relevance + cams[layer] @ relevance
    np.testing.assert_allclose(explained.chefer, relevance[0, 1:])
    # rollout: Abnar & Zuidema with the heads averaged and the residual's half
    rolled = np.eye(size)
    for layer in range(n_layers):
        mixed = 0.5 * attentions[layer].mean(axis=0) + 0.5 * np.eye(size)
        rolled = (mixed / mixed.sum(axis=1, keepdims=True)) @ rolled
    np.testing.assert_allclose(explained.rollout, rolled[0, 1:])


def test_maps_follow_the_layer_and_head_only_where_they_should():
    attentions, gradients = _two_layers()
    explained = relevancy_vision.from_maps(attentions, gradients, GRID_1x2, "y", 1.0)
    first, last = explained.maps(0, 0), explained.maps(-1, HEAD_MEAN)
    assert not np.allclose(first["raw"], last["raw"])
    assert not np.allclose(first["grad_x_attention"], last["grad_x_attention"])
    assert np.array_equal(first["rollout"], last["rollout"]) and np.array_equal(first["chefer"], last["chefer"])


# --- the CLIP adapter on the bundled tiny tower --------------------------------------------------------------------

@pytest.fixture(scope="module")
def one_object():
    loaded = bundled("clip")
    image = images.load_image(images.sample_png("shapes: one object"))
    return loaded, image, relevancy_vision.explain_clip(loaded.model, loaded.processor, image, PROMPTS)


def test_clip_target_is_the_best_prompts_logit(one_object):
    loaded, image, explained = one_object
    inputs = loaded.processor(text=PROMPTS, images=image, return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = loaded.model(**inputs).logits_per_image[0].numpy()  # CLIP's own forward, (18,)
    assert explained.target == f"logit of “{PROMPTS[int(logits.argmax())]}”"
    assert explained.score == pytest.approx(float(logits.max()), rel=1e-4)
    assert [p for p, _ in explained.choices][0] == PROMPTS[int(logits.argmax())] and len(explained.choices) == 18
    assert [s for _, s in explained.choices] == sorted((s for _, s in explained.choices), reverse=True)


def test_clip_maps_have_the_pages_shapes_and_raw_is_the_pages_cls_map(one_object):
    loaded, image, explained = one_object
    view = patch_view(loaded.model, loaded.processor, image)
    n_layers, n_heads = view.attentions.shape[:2]
    assert explained.attentions.shape == (n_layers, n_heads, view.n_patches)
    assert explained.cams.shape == (n_layers, view.n_patches) and explained.patches.shape == view.grid
    for layer, head in [(n_layers - 1, HEAD_MEAN), (0, 1), (LAYER_MEAN, HEAD_MAX)]:
        maps = explained.maps(layer, head)
        np.testing.assert_allclose(maps["raw"], view.cls_to_patches(layer, head).ravel(), rtol=1e-5, atol=1e-7)
        for method, values in maps.items():
            assert values.shape == (view.n_patches,), method
            assert np.isfinite(values).all() and (values >= 0).all(), method
            assert values.any(), method
    np.testing.assert_allclose(explained.rollout, view.rollout_into_cls(HEAD_MEAN, 0.0), rtol=1e-5)  # the page's
    assert np.array_equal(explained.patches.image, view.patches.image)


def test_chefer_puts_more_than_the_average_patchs_share_on_the_object(one_object):
    _, _, explained = one_object
    scene = images.sample_scene("shapes: one object")
    covered = explained.patches.coverage(scene.objects[0].mask).ravel() > 0  # 7 of 64 patches
    ratio = explained.chefer[covered].mean() / explained.chefer.mean()
    # measured 1.60 and 4.75 on two successive trainings of the bundled CLIP (models/bundled/clip)
    assert ratio > 1.0  # the object's patches carry more relevance than the average patch


def test_clip_needs_a_prompt(one_object):
    loaded, image, _ = one_object
    with pytest.raises(ValueError, match="at least one prompt"):
        relevancy_vision.explain_clip(loaded.model, loaded.processor, image, [])


# --- the DINOv2 adapter: y = the CLS output's norm -----------------------------------------------------------------

def test_dino_explains_the_cls_norm_on_the_pages_grid():
    dino = bundled("vision")
    image = images.load_image(images.sample_png("shapes: one object"))  # any image: DINOv2 has no world of its own
    explained = relevancy_vision.explain_dino(dino.model, dino.processor, image, 224)
    view = photo_patch_view(dino.model, dino.processor, image, 224)
    assert explained.patches.shape == view.grid == (16, 16)
    pixels = dinov2.pixel_values(dinov2.model_image(image, 224), dino.processor)
    cls_out = dinov2.forward(dino.model, pixels, attentions=False).last_hidden_state[relevancy_vision.CLS]
    assert explained.target == "|CLS output|"
    assert explained.score == pytest.approx(float(np.linalg.norm(cls_out)), rel=1e-4)
    maps = explained.maps(-1, HEAD_MEAN)
    np.testing.assert_allclose(maps["raw"], view.cls_to_patches(-1, HEAD_MEAN).ravel(), rtol=1e-4, atol=1e-7)
    for method, values in maps.items():
        assert values.shape == (256,) and np.isfinite(values).all() and (values >= 0).all() and values.any(), method
