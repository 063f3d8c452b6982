"""The shapes-world check: held-out scenes pass, photos and synthetic off-world images fail, for a stated reason."""
import io

import numpy as np
import pytest
from PIL import Image

from core.inputs import images
from core.shapes import in_domain, shapes_world
from core.shapes import held_out


@pytest.mark.parametrize("background", shapes_world.BACKGROUNDS)
def test_held_out_scenes_on_every_background_are_in_domain_with_the_statistics_the_world_guarantees(background):
    checks = [in_domain.measure(shapes_world.make_scene(seed, background=background).image)
              for seed in held_out.test_seeds(50)]
    assert all(c.in_domain for c in checks), [c.reason for c in checks if not c.in_domain]
    assert all(c.covered >= 0.99 for c in checks)  # every pixel is background or an object colour
    assert min(c.background for c in checks) >= in_domain.SCENES_BACKGROUND
    if background != "noise":
        assert all(2 <= c.colours <= 4 for c in checks)  # the canvas plus 1-3 objects
    assert "looks like a shapes-world scene" in checks[0].reason


def test_the_shapes_samples_and_a_jpeg_of_a_scene_are_in_domain():
    for name in images.SAMPLE_SCENES:
        assert in_domain.measure(images.load_image(images.sample_png(name))).in_domain, name
    buffer = io.BytesIO()
    shapes_world.make_scene(held_out.test_seeds(1)[0]).image.save(buffer, format="JPEG", quality=75)
    assert in_domain.measure(Image.open(buffer)).in_domain  # the bundled BLIP still answers these (docstring)


@pytest.mark.parametrize("name", [n for n in images.SKIMAGE_PHOTOS if n in images.samples()])
def test_the_sample_photos_are_out_of_domain_for_a_measured_reason(name):
    check = in_domain.measure(images.load_image(images.sample_png(name)))
    assert not check.in_domain
    assert check.covered < in_domain.MIN_COVERED or check.background < in_domain.MIN_BACKGROUND
    assert "%" in check.reason and "looks like a shapes-world scene" not in check.reason


def test_a_plain_red_image_and_noise_are_out_of_domain():
    red = in_domain.measure(Image.new("RGB", (64, 64), (220, 40, 40)))
    assert not red.in_domain and red.background == 1.0 and "no object in the world's colours" in red.reason
    noise = in_domain.measure(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3),
                                                                                dtype=np.uint8)))
    assert not noise.in_domain and "background is not one plain colour" in noise.reason


def test_the_reason_names_the_statistic_that_failed():
    grey = in_domain.measure(Image.new("RGB", (64, 64), (128, 128, 128)))
    assert not grey.in_domain and "no object in the world's colours" in grey.reason
    cat = images.load_image(images.sample_png("photo: cat")) if "photo: cat" in images.samples() else \
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    strip = Image.new("RGB", (100, 100), (128, 128, 128))  # grey canvas, more than half of it a photo
    strip.paste(cat.resize((100, 60)), (0, 20))
    check = in_domain.measure(strip)
    assert not check.in_domain and check.background >= in_domain.MIN_BACKGROUND
    assert "neither the plain background nor one of the world's six object colours" in check.reason


def test_a_large_image_is_measured_on_a_small_copy_with_the_same_verdict():
    scene = shapes_world.make_scene(held_out.test_seeds(2)[1]).image
    large = scene.resize((1024, 1024), Image.Resampling.NEAREST)
    small, big = in_domain.measure(scene), in_domain.measure(large)
    assert big.in_domain and big.background == pytest.approx(small.background, abs=0.02)
