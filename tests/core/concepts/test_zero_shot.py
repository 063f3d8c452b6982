import numpy as np
import pytest

from core.concepts import clip_space, zero_shot
from core.shapes import shapes_world
from tests.models import bundled


def _zero_shot(clip, image, class_names, templates):
    """The page's path: the image embedding comes from the CLIP-space forward, only the text tower runs here."""
    image_embed = clip_space.embed(clip.model, clip.processor, [image], ["image"], ["an image"]).image_embeds[0]
    return zero_shot.zero_shot_from_embedding(clip.model, clip.processor, image_embed, class_names, templates)


def test_zero_shot_names_the_object_and_ensembling_is_the_mean_of_unit_prompts():
    clip = bundled("clip")
    names = [name for name, _ in shapes_world.class_prompts()]
    hits = 0
    for seed in range(940_000_000, 940_000_010):
        scene = shapes_world.make_scene(seed, n_objects=1)
        result = _zero_shot(clip, scene.image, names, ["a {}"])
        hits += names[int(result.probabilities.argmax())] == scene.objects[0].name
        assert np.isclose(result.probabilities.sum(), 1.0)
        assert np.allclose(result.probabilities, result.per_template[0], atol=1e-5)  # one template: no ensembling
    assert hits >= 9


def test_several_templates_give_one_row_each():
    clip = bundled("clip")
    scene = shapes_world.make_scene(7, n_objects=1)
    result = _zero_shot(clip, scene.image, ["red circle", "blue square"], list(zero_shot.TEMPLATES))
    assert result.per_template.shape == (len(zero_shot.TEMPLATES), 2)
    with pytest.raises(ValueError):
        _zero_shot(clip, scene.image, [], ["a {}"])


def test_probabilities_equal_clipmodels_own_softmax_for_one_template():
    import torch

    clip = bundled("clip")
    scene = shapes_world.make_scene(11, n_objects=1)
    names = ["red circle", "blue square", "green triangle"]
    result = _zero_shot(clip, scene.image, names, ["a {}"])
    inputs = clip.processor(images=scene.image, text=[f"a {n}" for n in names], return_tensors="pt", padding=True)
    with torch.inference_mode():
        own = clip.model(**inputs).logits_per_image.softmax(dim=-1)[0].numpy()
    assert np.allclose(result.probabilities, own, atol=1e-5)
