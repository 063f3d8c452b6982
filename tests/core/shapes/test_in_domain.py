"""The shapes-world check: held-out scenes pass, photos and synthetic off-world images fail, for a stated reason."""
import io

import numpy as np
import pytest
from PIL import Image

from core.inputs import images
from core.shapes import in_domain, shapes_world
from core.shapes import held_out


def test_held_out_scenes_are_all_in_domain_with_the_statistics_the_world_guarantees():
    checks = [in_domain.measure(shapes_world.make_scene(seed).image) for seed in held_out.test_seeds(50)]
    assert all(c.in_domain for c in checks), [c.reason for c in checks if not c.in_domain]
    assert all(c.covered == pytest.approx(1.0) for c in checks)  # every pixel is background or an object colour
    assert min(c.background for c in checks) >= in_domain.SCENES_BACKGROUND
    assert all(2 <= c.colours <= 4 for c in checks)  # grey plus 1-3 objects
    assert "looks like a shapes-world scene" in checks[0].reason


def test_the_shapes_samples_and_a_jpeg_of_a_scene_are_in_domain():
    for name in images.SAMPLE_SCENES:
        assert in_domain.measure(images.load_image(images.sample_png(name))).in_domain, name
    buffer = io.BytesIO()
    shapes_world.make_scene(held_out.test_seeds(1)[0]).image.save(buffer, format="JPEG", quality=75)
    assert in_domain.measure(Image.open(buffer)).in_domain  # the bundled BLIP still answers these (docstring)


@pytest.mark.parametrize("name", [n for n in images.SKIMAGE_PHOTOS if n in images.samples()])
def test_the_sample_photos_are_out_of_domain_because_of_the_background(name):
    check = in_domain.measure(images.load_image(images.sample_png(name)))
    assert not check.in_domain
    assert check.background < in_domain.MIN_BACKGROUND
    assert "background is not the shapes world's grey" in check.reason and "%" in check.reason


def test_a_plain_red_image_noise_and_a_white_background_scene_are_out_of_domain():
    red = in_domain.measure(Image.new("RGB", (64, 64), (220, 40, 40)))
    assert not red.in_domain and red.background == 0.0 and "background" in red.reason
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    assert not in_domain.measure(noise).in_domain
    on_white = shapes_world.WorldConfig(background=(240, 240, 240))
    white = shapes_world.make_scene(held_out.test_seeds(1)[0], config=on_white)
    check = in_domain.measure(white.image)
    assert not check.in_domain and check.objects > in_domain.MIN_OBJECT  # the shapes are there; the grey is not


def test_the_reason_names_the_statistic_that_failed():
    grey = in_domain.measure(Image.new("RGB", (64, 64), (128, 128, 128)))
    assert not grey.in_domain and "no object in the world's colours" in grey.reason
    cat = images.load_image(images.sample_png("photo: cat")) if "photo: cat" in images.samples() else \
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    strip = Image.new("RGB", (100, 100), (128, 128, 128))  # grey canvas, more than half of it a photo
    strip.paste(cat.resize((100, 60)), (0, 20))
    check = in_domain.measure(strip)
    assert not check.in_domain and check.background >= in_domain.MIN_BACKGROUND
    assert "neither the world's grey background nor one of its six object colours" in check.reason


def test_a_large_image_is_measured_on_a_small_copy_with_the_same_verdict():
    scene = shapes_world.make_scene(held_out.test_seeds(2)[1]).image
    large = scene.resize((1024, 1024), Image.Resampling.NEAREST)
    small, big = in_domain.measure(scene), in_domain.measure(large)
    assert big.in_domain and big.background == pytest.approx(small.background, abs=0.02)
