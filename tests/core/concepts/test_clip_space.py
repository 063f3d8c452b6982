import numpy as np
import pytest
import torch

from core.concepts import clip_space
from core.shapes import shapes_world
from tests.models import bundled


def test_similarity_is_cosine_of_unit_embeddings_and_matching_captions_win():
    clip = bundled("clip")
    scenes = [shapes_world.make_scene(980_000_000 + i, n_objects=1) for i in range(6)]
    captions = [shapes_world.caption(s) for s in scenes]
    space = clip_space.embed(clip.model, clip.processor, [s.image for s in scenes], [str(i) for i in range(6)],
                             captions)
    assert np.allclose(np.linalg.norm(space.image_embeds, axis=1), 1, atol=1e-5)
    assert np.allclose(space.similarity, space.image_embeds @ space.text_embeds.T)
    assert np.allclose(space.logits, space.similarity * space.logit_scale)
    assert (space.similarity.argmax(axis=1) == np.arange(6)).mean() >= 5 / 6


def test_embed_refuses_an_empty_side():
    clip = bundled("clip")
    with pytest.raises(ValueError):
        clip_space.embed(clip.model, clip.processor, [], [], ["a red circle"])


def _scenes_and_captions(n: int = 6):
    scenes = [shapes_world.make_scene(980_000_000 + i, n_objects=1) for i in range(n)]
    return scenes, [shapes_world.caption(s) for s in scenes]


def test_nearest_ranks_images_and_captions_by_cosine_and_leaves_the_item_out():
    clip = bundled("clip")
    scenes, captions = _scenes_and_captions()
    space = clip_space.embed(clip.model, clip.processor, [s.image for s in scenes], [str(i) for i in range(6)],
                             captions)
    neighbours = clip_space.nearest(space, "image", 2, k=11)
    assert len(neighbours) == 11 and ("image", 2) not in [(n.kind, n.index) for n in neighbours]
    cosines = [n.cosine for n in neighbours]
    assert cosines == sorted(cosines, reverse=True)
    first_caption = next(n for n in neighbours if n.kind == "caption")
    assert np.isclose(first_caption.cosine, space.similarity[2].max(), atol=1e-6)
    assert first_caption.index == 2  # the trained model puts an image's own caption nearest among the captions


def test_embed_equals_clipmodels_own_embeddings_and_keeps_the_first_images_patch_tokens():
    clip = bundled("clip")
    scenes, captions = _scenes_and_captions(3)
    space = clip_space.embed(clip.model, clip.processor, [s.image for s in scenes], ["0", "1", "2"], captions)
    inputs = clip.processor(images=[s.image for s in scenes], text=captions, return_tensors="pt", padding=True)
    with torch.inference_mode():
        own = clip.model(**inputs, output_hidden_states=True)
        tokens = clip.model.vision_model.post_layernorm(own.vision_model_output.last_hidden_state[0, 1:])  # (N, d)
        patches = torch.nn.functional.normalize(clip.model.visual_projection(tokens), dim=-1)  # (N, D)
    assert np.allclose(space.image_embeds, own.image_embeds.numpy(), atol=1e-5)
    assert np.allclose(space.text_embeds, own.text_embeds.numpy(), atol=1e-5)
    assert space.first_patch_embeds.shape == (8, 8, 64)
    assert np.allclose(space.first_patch_embeds.reshape(64, -1), patches.numpy(), atol=1e-5)


def test_patch_text_similarity_is_a_patch_grid_and_its_cls_is_the_image_text_cosine():
    clip = bundled("clip")
    scenes, captions = _scenes_and_captions(2)
    probe = clip_space.patch_text_similarity(clip.model, clip.processor, scenes[0].image, captions[1])
    assert probe.cosine.shape == (8, 8) == probe.patches.shape and probe.patches.patch_size == 8
    assert probe.patches.image.shape == (64, 64, 3)
    assert np.abs(probe.cosine).max() <= 1 + 1e-5
    space = clip_space.embed(clip.model, clip.processor, [scenes[0].image, scenes[1].image], ["0", "1"], captions)
    assert np.isclose(probe.cls_cosine, space.similarity[0, 1], atol=1e-5)
    assert np.allclose(clip_space.patch_text_similarity_in(space, 1).cosine, probe.cosine, atol=1e-5)
