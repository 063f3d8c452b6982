import io

import numpy as np
import pytest
from PIL import Image

from core import images


def _encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_unreadable_uploads_raise_a_message_for_the_user(data):
    with pytest.raises(images.ImageInputError) as error:
        images.load_image(data)
    assert "image" in str(error.value).lower()


def test_truncated_jpeg_is_rejected_or_read_never_crashes():
    data = _encode(Image.new("RGB", (200, 200), "red"), "JPEG")
    with pytest.raises(images.ImageInputError):
        images.load_image(data[: len(data) // 3])


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16"])
def test_every_mode_becomes_rgb(mode):
    image = Image.new(mode, (40, 30))
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = images.load_image(_encode(image, fmt))
    assert out.mode == "RGB" and out.size == (40, 30)


def test_transparency_is_shown_on_white_and_16_bit_grey_is_stretched_not_clipped():
    clear = images.read_upload(_encode(Image.new("RGBA", (10, 10), (255, 0, 0, 0))))
    assert np.asarray(clear.image)[0, 0].tolist() == [255, 255, 255] and "white" in clear.notes[0]
    ramp = Image.fromarray(np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (5, 1)))
    assert ramp.mode == "I;16"
    grey = np.asarray(images.read_upload(_encode(ramp)).image)[..., 0]
    assert grey.min() == 0 and grey.max() == 255 and len(np.unique(grey)) > 50


def test_formats_outside_the_allowlist_are_refused_even_when_pil_could_read_them():
    with pytest.raises(images.ImageInputError):
        images.load_image(_encode(Image.new("RGB", (20, 20)), "TIFF"))


def test_a_long_strip_is_padded_to_the_aspect_limit_with_a_note():
    loaded = images.read_upload(_encode(Image.new("RGB", (1, 4000), "red")))
    width, height = loaded.image.size
    assert height == images.MAX_SIDE and height / width <= images.MAX_ASPECT
    assert any("padded" in n for n in loaded.notes)


def test_the_upload_limit_is_read_from_the_streamlit_config():
    assert images.MAX_UPLOAD_MB == 10
    with pytest.raises(images.ImageInputError, match="10 MB"):
        images.load_image(b"\x89PNG" + b"\0" * (10 * 2 ** 20 + 1))


def test_large_images_are_shrunk_and_exif_rotation_applied():
    big = images.load_image(_encode(Image.new("RGB", (3000, 1500))))
    assert max(big.size) == images.MAX_SIDE
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    rotated = images.load_image(_encode(Image.new("RGB", (60, 20)), "JPEG", exif=exif))
    assert rotated.size == (20, 60)
    assert any("rotation applied" in n for n in images.read_upload(_encode(Image.new("RGB", (60, 20)), "JPEG",
                                                                           exif=exif)).notes)


def test_samples_include_shapes_scenes_with_ground_truth_and_decodable_pngs():
    samples = images.samples()
    shapes = [s for s in samples.values() if s.kind == "shapes"]
    assert len(shapes) == 3
    for s in samples.values():
        image = images.load_image(images.sample_png(s.name))
        assert image.mode == "RGB"
    scene = images.sample_scene(shapes[1].name)
    assert scene is not None and len(scene.objects) == 2
    assert np.array_equal(np.asarray(images.load_image(images.sample_png(shapes[1].name))), np.asarray(scene.image))
