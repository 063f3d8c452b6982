"""Images in: uploads checked and normalised, and the sample gallery (shapes scenes and licence-clean photos).

Uploads stay in memory. Anything that is not a readable image raises `ImageInputError` with a sentence a
student can act on; the pages show that sentence instead of a traceback.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from core import shapes_world

MAX_PIXELS = 40_000_000  # above this PIL's decompression-bomb guard trips anyway; we say it plainly first
MAX_SIDE = 1024  # every model here works at <= 384 px: larger uploads are shrunk once, on arrival


class ImageInputError(ValueError):
    """The upload is not an image we can use. The message is meant for the user."""


def load_image(data: bytes) -> Image.Image:
    """Decode an upload into an RGB image no larger than MAX_SIDE, honouring EXIF rotation."""
    if not data:
        raise ImageInputError("The file is empty (0 bytes). Please choose an image file (PNG or JPEG).")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ImageInputError(
                    f"The image is {width} x {height} pixels, more than the {MAX_PIXELS // 1_000_000} megapixels "
                    "this app accepts. Please upload a smaller image."
                )
            probe.seek(0)  # an animated GIF: its first frame
            image = ImageOps.exif_transpose(probe)
            image.load()
    except ImageInputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageInputError(
            f"This file could not be read as an image ({type(error).__name__}). It may be corrupt, truncated or "
            "not an image at all. Please try a PNG or JPEG file."
        ) from error
    if image.mode != "RGB":
        image = image.convert("RGBA").convert("RGB") if "A" in image.getbands() or image.mode == "P" else \
            image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str  # "shapes" (the bundled models' world) or "photo"
    question: str  # a sensible first question for this image
    caption: str  # what a good caption would say; the CLIP page's default text for it


SAMPLE_SCENES = {  # (seed, objects): seeds far above the training and test ranges of core/train.py
    "shapes: one object": (990_000_011, 1),
    "shapes: two objects": (990_000_002, 2),
    "shapes: three objects": (990_000_003, 3),
}
SKIMAGE_PHOTOS = {  # scikit-image ships these (public domain / CC0, see skimage/data/README.txt)
    "photo: cat": ("chelsea.png", "What animal is in the photo?", "a photo of a cat"),
    "photo: astronaut": ("astronaut.png", "What is the person wearing?", "a photo of an astronaut"),
    "photo: coffee": ("coffee.png", "What is in the cup?", "a photo of a cup of coffee"),
    "photo: rocket": ("rocket.jpg", "What is in the sky?", "a photo of a rocket launch"),
}


def _scene(name: str) -> shapes_world.Scene:
    seed, n = SAMPLE_SCENES[name]
    return shapes_world.make_scene(seed, n_objects=n)


@lru_cache(maxsize=None)
def samples() -> dict[str, Sample]:
    """Every sample image's description, shapes scenes first."""
    out: dict[str, Sample] = {}
    for name in SAMPLE_SCENES:
        scene = _scene(name)
        out[name] = Sample(name, "shapes", f"what color is the {scene.objects[0].shape}?",
                           shapes_world.caption(scene))
    for name, (_, question, caption) in SKIMAGE_PHOTOS.items():
        if _skimage_file(name).exists():
            out[name] = Sample(name, "photo", question, caption)
    return out


def _skimage_file(name: str) -> Path:
    try:
        import skimage
    except ImportError:  # the photos are optional; the shapes scenes always exist
        return Path("/nonexistent")
    return Path(skimage.__file__).parent / "data" / SKIMAGE_PHOTOS[name][0]


@lru_cache(maxsize=16)
def sample_png(name: str) -> bytes:
    """The sample as PNG bytes (the form every page caches its results under)."""
    if name in SAMPLE_SCENES:
        return to_png(_scene(name).image)
    return to_png(load_image(_skimage_file(name).read_bytes()))


def sample_scene(name: str) -> shapes_world.Scene | None:
    """The ground-truth scene behind a shapes sample (None for photos)."""
    return _scene(name) if name in SAMPLE_SCENES else None
