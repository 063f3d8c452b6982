import numpy as np
import pytest

from core import clip_space, shapes_world
from tests.models import bundled


def test_pca_returns_one_point_per_item_and_keeps_the_main_direction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 5)) * np.array([10, 1, 1, 0.1, 0.1])
    points = clip_space.pca(x)
    assert points.shape == (10, 2)
    assert points[:, 0].var() > 10 * points[:, 1].var()
    assert clip_space.pca(x[:1]).shape == (1, 2)


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
