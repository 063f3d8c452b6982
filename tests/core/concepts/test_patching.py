import numpy as np
import pytest
from PIL import Image
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

from core.concepts import patching
from core.inputs import images
from core.shapes import tiny_models
from tests.models import bundled


@pytest.mark.parametrize("size", [(64, 64), (120, 50), (37, 200)])
def test_patch_count_is_sequence_length_minus_cls(size):
    clip = bundled("clip")
    view = patching.patch_view(clip.model, clip.processor, Image.new("RGB", size, "white"))
    rows, cols = view.grid
    assert view.attentions.shape[-1] == view.n_patches + 1 == rows * cols + 1
    assert view.patches.image.shape[:2] == (rows * view.patches.patch_size, cols * view.patches.patch_size)


def test_attention_rows_sum_to_one_and_model_image_round_trips():
    clip = bundled("clip")
    scene_png = images.sample_png("shapes: two objects")
    view = patching.patch_view(clip.model, clip.processor, images.load_image(scene_png))
    assert np.allclose(view.attentions.sum(axis=-1), 1.0, atol=1e-5)
    assert view.cls_attention.shape == (3, 4, 64)
    original = np.asarray(images.load_image(scene_png)).astype(int)
    assert np.abs(view.patches.image.astype(int) - original).max() <= 1  # 64 px in, 64 px seen: no resampling


def test_full_size_clip_b32_architecture_gives_a_7x7_grid():
    """The hub CLIP's real shapes (random weights, nothing downloaded): 224 px, 32 px patches -> 49 + CLS."""
    model = CLIPModel._from_config(CLIPConfig(), attn_implementation="eager").eval()
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tiny_models.build_tokenizer())
    view = patching.patch_view(model, processor, Image.new("RGB", (300, 200), "gray"))
    assert view.grid == (7, 7) and view.attentions.shape == (12, 12, 50, 50)


def test_patch_vectors_pixels_pca_and_position_similarity():
    clip = bundled("clip")
    view = patching.patch_view(clip.model, clip.processor, images.load_image(images.sample_png("shapes: two objects")))
    n, d = view.patch_vectors.shape
    assert n == 64 and view.position_embeddings.shape == (64, d)
    assert view.patches.pixels(9).shape == (8, 8, 3)
    assert np.array_equal(view.patches.pixels(9), view.patches.image[8:16, 8:16])
    sim = view.similar_patches(9)
    assert sim.shape == (8, 8) and np.isclose(sim[1, 1], 1.0) and sim.max() <= 1 + 1e-6
    assert view.pca_rgb().shape == (8, 8, 3)
    tiles = view.position_similarity()
    assert tiles.shape == (64, 64)
    assert np.allclose([tiles[r * 8 + r, c * 8 + c] for r in range(8) for c in range(8)], 1.0, atol=1e-5)


def test_full_size_clip_b16_architecture_gives_a_14x14_grid():
    model = CLIPModel._from_config(CLIPConfig(vision_config=dict(patch_size=16)), attn_implementation="eager").eval()
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tiny_models.build_tokenizer())
    view = patching.patch_view(model, processor, Image.new("RGB", (300, 200), "gray"))
    assert view.grid == (14, 14) and view.attentions.shape[-1] == 197
    assert view.position_similarity().shape == (196, 196)
    pooled = view.position_similarity(2)  # 7 x 7 blocks of 2 x 2 positions
    sim = view.position_similarity().reshape(14, 14, 14, 14)  # (query r, key r, query c, key c)
    block = sim[2:4, 6:8, 4:6, 10:12]  # query rows 2-3 and cols 4-5 (block (1, 2)); keys rows 6-7, cols 10-11 (3, 5)
    assert pooled.shape == (49, 49) and np.isclose(pooled[1 * 7 + 3, 2 * 7 + 5], block.mean(), atol=1e-6)
    with pytest.raises(ValueError):
        view.position_similarity(3)


def test_what_the_page_redraws_is_computed_once_per_view_and_read_only():
    from core.attention.rollout import mean_attention_distance, rollout
    clip = bundled("clip")
    view = patching.patch_view(clip.model, clip.processor, images.load_image(images.sample_png("shapes: one object")))
    rolled = view.rollout_into_cls("max", 0.5)
    assert np.allclose(rolled, rollout(view.attentions, "max", 0.5)[0, 1:])
    assert view.rollout_into_cls("max", 0.5) is rolled  # the second rerun reuses it
    assert not np.allclose(view.rollout_into_cls("mean", 0.0), rolled)  # other settings, another result
    distance = view.attention_distance()
    assert np.allclose(distance, mean_attention_distance(view.attentions[:, :, 1:, 1:], view.patches))
    assert view.pca_rgb() is view.pca_rgb()
    for shared in (rolled, distance, view.pca_rgb()):
        with pytest.raises(ValueError):  # one session cannot change what another session's page shows
            shared[0] = 0


def test_the_views_maps_leave_cls_out_by_the_towers_own_bookkeeping():
    """cls_to_patches / patch_to_patches are the rows of the shown attention with the CLS key dropped; a page
    never writes `[0, 1:]` or `1 + patch` itself."""
    from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN, select
    from core.concepts.patching import patch_view
    from core.shapes import shapes_world
    from tests.models import bundled

    loaded = bundled("clip")
    view = patch_view(loaded.model, loaded.processor, shapes_world.make_scene(990_000_002, n_objects=2).image)
    for layer, head in ((0, 1), (LAYER_MEAN, HEAD_MEAN), (2, HEAD_MAX)):
        full = select(view.attentions, layer, head)  # (1 + N, 1 + N)
        assert np.array_equal(view.cls_to_patches(layer, head).ravel(), full[0, 1:])
        assert np.array_equal(view.patch_to_patches(5, layer, head).ravel(), full[1 + 5, 1:])
        assert view.cls_to_patches(layer, head).shape == view.grid
    assert np.array_equal(view.cls_to_patches(1, 2).ravel(), view.cls_attention[1, 2])
