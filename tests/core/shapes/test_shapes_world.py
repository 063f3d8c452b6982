import numpy as np
import pytest

from core.shapes import shapes_world, tiny_models


def test_same_seed_same_scene():
    a, b = shapes_world.make_scene(42), shapes_world.make_scene(42)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert [o.name for o in a.objects] == [o.name for o in b.objects]


@pytest.mark.parametrize("seed", range(40))
def test_objects_are_distinct_inside_the_image_and_masks_match_pixels(seed):
    scene = shapes_world.make_scene(seed)
    size = shapes_world.WorldConfig.image_size
    assert 1 <= len(scene.objects) <= 3
    assert len({o.shape for o in scene.objects}) == len(scene.objects)
    assert len({o.color for o in scene.objects}) == len(scene.objects)
    pixels = np.asarray(scene.image).astype(int)
    for o in scene.objects:
        assert o.mask.shape == (size, size) and o.mask.sum() > 60
        ys, xs = np.nonzero(o.mask)
        assert o.box[0] <= xs.min() and xs.max() < o.box[2] and o.box[1] <= ys.min() and ys.max() < o.box[3]
        mean = pixels[o.mask].mean(axis=0)  # the object's pixels are near its named colour
        assert np.abs(mean - np.array(shapes_world.COLORS[o.color])).max() <= shapes_world.WorldConfig.jitter + 1
    masks = np.stack([o.mask for o in scene.objects])
    assert masks.sum(axis=0).max() == 1  # objects never overlap


def test_caption_names_objects_left_to_right():
    scene = shapes_world.make_scene(7, n_objects=3)
    xs = [o.box[0] for o in scene.objects]
    assert xs == sorted(xs)
    expected = f"a {scene.objects[0].name}, a {scene.objects[1].name} and a {scene.objects[2].name}"
    assert shapes_world.caption(scene) == expected


def test_questions_have_the_ground_truth_answers():
    scene = shapes_world.make_scene(3, n_objects=2)
    qa = dict(shapes_world.questions(scene))
    for o in scene.objects:
        assert qa[f"what color is the {o.shape}?"] == o.color
        assert qa[f"what shape is the {o.color} object?"] == o.shape
    assert qa["how many objects are there?"] == "two"
    assert set(qa.values()) <= set(shapes_world.answer_vocabulary())


def test_tokenizer_knows_every_template_word():
    tokenizer = tiny_models.build_tokenizer()
    texts = []
    for seed in range(30):
        scene = shapes_world.make_scene(seed)
        texts.append(shapes_world.caption(scene))
        texts += [q for q, _ in shapes_world.questions(scene)]
    texts += [p for _, p in shapes_world.class_prompts()]
    for text in texts:
        assert "[UNK]" not in tokenizer.tokenize(text), text
    assert max(len(tokenizer(t).input_ids) for t in texts) <= tiny_models.SIZE.max_text_tokens
