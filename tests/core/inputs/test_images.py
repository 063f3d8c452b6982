import io

import numpy as np
import pytest
from PIL import Image

from core.inputs import images


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


@pytest.mark.parametrize("fmt, named", [("TIFF", "a TIFF image"), ("PDF", "a PDF document"), ("ICO", "an icon"),
                                        ("PSD", None)])
def test_a_refused_format_is_named_from_the_files_contents_with_what_to_do(fmt, named):
    if fmt == "PSD":  # PIL cannot write PSD: its signature and a header are enough to be recognised
        data, named = b"8BPS\0\1" + b"\0" * 40, "a Photoshop (PSD) file"
    else:
        data = _encode(Image.new("RGB", (20, 20)), fmt)
    with pytest.raises(images.ImageInputError) as error:
        images.read_upload(data)
    message = str(error.value)
    assert message.startswith(f"This file is {named}") and images.FORMATS_WANTED in message
    assert "Error" not in message and "PIL" not in message


@pytest.mark.parametrize("data", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 20,
                                  _encode(Image.new("RGB", (200, 200)), "JPEG")[:300]])
def test_unreadable_messages_are_plain_words_without_class_names(data):
    with pytest.raises(images.ImageInputError) as error:
        images.read_upload(data)
    message = str(error.value)
    assert "Error" not in message and "(" not in message.split(":")[0] and "truncated" not in message
    assert "could not be read as an image" in message or "cut short" in message


def test_a_long_strip_is_padded_to_the_aspect_limit_with_a_note():
    loaded = images.read_upload(_encode(Image.new("RGB", (1, 4000), "red")))
    width, height = loaded.image.size
    assert height == images.MAX_SIDE and height / width <= images.MAX_ASPECT
    assert any("padded" in n for n in loaded.notes)


def test_the_upload_limit_is_read_from_the_streamlit_config():
    assert images.MAX_UPLOAD_MB == 10
    with pytest.raises(images.ImageInputError, match="10 MB"):
        images.load_image(b"\x89PNG" + b"\0" * (10 * 2 ** 20 + 1))


def _exif_jpeg(size: tuple[int, int], orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(Image.new("RGB", size), "JPEG", exif=exif)


def test_large_images_are_shrunk_and_exif_rotation_applied():
    big = images.load_image(_encode(Image.new("RGB", (3000, 1500))))
    assert max(big.size) == images.MAX_SIDE
    rotated = images.load_image(_exif_jpeg((60, 20), 6))  # 6: "rotate 90 CW to display"
    assert rotated.size == (20, 60)
    assert any("rotated 90° clockwise" in n for n in images.read_upload(_exif_jpeg((60, 20), 6)).notes)


@pytest.mark.parametrize("orientation, upright, turn", [(6, (100, 300), "rotated 90° clockwise"),
                                                        (8, (100, 300), "rotated 90° counter-clockwise"),
                                                        (3, (300, 100), "rotated 180°"),
                                                        (2, (300, 100), "flipped left to right")])
def test_an_exif_turned_photo_is_called_rotated_not_shrunk(orientation, upright, turn):
    """A 300 x 100 photo stored sideways shows as 100 x 300: the same pixels, turned, so no "shrunk" note."""
    loaded = images.read_upload(_exif_jpeg((300, 100), orientation))
    assert loaded.image.size == upright
    assert len(loaded.notes) == 1 and turn in loaded.notes[0], loaded.notes
    assert not any("hrunk" in n for n in loaded.notes)


def test_a_big_turned_photo_is_shrunk_with_sizes_compared_upright():
    loaded = images.read_upload(_exif_jpeg((3000, 1000), 6))
    assert loaded.image.size == (341, 1024)
    assert [n for n in loaded.notes if "hrunk" in n] == [
        "Shrunk from 1000 x 3000 to 341 x 1024 pixels (the models work at 384 px or less)."]


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
