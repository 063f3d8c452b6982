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
    a = [("an " if o.color == "orange" else "a ") + o.name for o in scene.objects]
    assert shapes_world.caption(scene) == f"{a[0]}, {a[1]} and {a[2]}"


def test_an_orange_object_gets_an():
    seed = next(s for s in range(200) if any(o.color == "orange" for o in shapes_world.make_scene(s).objects))
    scene = shapes_world.make_scene(seed)
    assert "an orange " in shapes_world.caption(scene) and "a orange" not in shapes_world.caption(scene)
    assert ("orange circle", "an orange circle") in shapes_world.class_prompts()


@pytest.mark.parametrize("background", shapes_world.BACKGROUNDS)
def test_a_background_changes_the_canvas_only(background):
    grey, other = shapes_world.make_scene(11), shapes_world.make_scene(11, background=background)
    assert [(o.name, o.box) for o in grey.objects] == [(o.name, o.box) for o in other.objects]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(grey.objects, other.objects))
    pixels = np.asarray(other.image).astype(int)
    canvas = ~np.any([o.mask for o in other.objects], axis=0)
    for o in other.objects:  # every object stays nearer its own colour than the canvas is
        own = np.abs(pixels[o.mask].mean(axis=0) - shapes_world.COLORS[o.color]).max()
        assert own <= shapes_world.WorldConfig.jitter + 3
        assert np.linalg.norm(pixels[canvas].mean(axis=0) - shapes_world.COLORS[o.color]) > 60
    if background == "noise":
        assert pixels[canvas].std(axis=0).min() > shapes_world.NOISE_STD / 2
    elif background != "grey":
        assert not np.array_equal(np.asarray(grey.image), np.asarray(other.image))


def test_training_draws_every_background_deterministically():
    drawn = [shapes_world.training_background(s) for s in range(2000)]
    assert drawn == [shapes_world.training_background(s) for s in range(2000)]
    for name, weight in shapes_world.TRAINING_BACKGROUNDS.items():
        assert abs(drawn.count(name) / len(drawn) - weight) < 0.04
    with pytest.raises(ValueError, match="unknown background"):
        shapes_world.make_scene(1, background="plaid")


def test_every_phrasing_asks_the_same_thing():
    scene = shapes_world.make_scene(3, n_objects=2)
    canonical = shapes_world.questions(scene)
    for phrasing in range(len(shapes_world.COLOR_QUESTIONS)):
        pairs = shapes_world.questions(scene, phrasing=phrasing)
        assert [a for _, a in pairs] == [a for _, a in canonical]
    assert ("what is the colour of the " + scene.objects[0].shape + "?", scene.objects[0].color) in \
        shapes_world.questions(scene, phrasing=4)


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
        texts += [q for p in range(len(shapes_world.COLOR_QUESTIONS)) for q, _ in shapes_world.questions(scene, p)]
    texts += [p for _, p in shapes_world.class_prompts()]
    for text in texts:
        assert "[UNK]" not in tokenizer.tokenize(text), text
    assert max(len(tokenizer(t).input_ids) for t in texts) <= tiny_models.SIZE.max_text_tokens
