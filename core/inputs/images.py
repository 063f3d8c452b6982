"""Images in: uploads checked and normalised, and the sample gallery (shapes scenes and licence-clean photos).

Uploads stay in memory (bytes in, a PIL image out; nothing is written to disk). Anything that is not a usable image
raises `ImageInputError` with a sentence a student can act on; the pages show that sentence instead of a traceback.
Anything we change on the way in (first frame of an animation, EXIF rotation, transparency, shrinking, padding) is
returned as a note the sidebar shows, so no fallback is silent. A file in another format (TIFF, HEIC, PDF...) gets
a message naming that format, read from its first bytes, not its name.

The limits live here and in `.streamlit/config.toml` (`server.maxUploadSize`, which this module reads, so the
number exists once).
"""
from __future__ import annotations

import io
import struct
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.shapes import shapes_world

CONFIG_TOML = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"
MAX_PIXELS = 40_000_000  # decoded pixels (after JPEG draft scaling): ~160 MB as RGBA, so a few at once still fit
MAX_SIDE = 1024  # every model here works at <= 384 px: larger uploads are shrunk once, on arrival
MAX_ASPECT = 4.0  # CLIP resizes the SHORT side to 224: a 1 x 4000 strip would become 224 x 896000. Pad beyond 4:1.
SMALL_SIDE = 16  # below this the model sees a few blown-up pixels: allowed, with a note
PIL_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # what PIL may decode (JPEG includes phone MPOs). Never EPS
# "PNG, JPEG, GIF, BMP or WEBP", for labels and messages. The uploaders take any file (a type list there makes the
# browser refuse others silently, leaving the last image and answer on screen): read_upload says what is wrong.
FORMATS_WANTED = f"{', '.join(PIL_FORMATS[:-1])} or {PIL_FORMATS[-1]}"
PAD_COLOUR = (128, 128, 128)


def _max_upload_mb() -> int:
    """server.maxUploadSize from .streamlit/config.toml (Streamlit enforces it in the browser and on the server)."""
    try:
        return int(tomllib.loads(CONFIG_TOML.read_text())["server"]["maxUploadSize"])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError):
        return 200  # Streamlit's own default


MAX_UPLOAD_MB = _max_upload_mb()


class ImageInputError(ValueError):
    """The upload is not an image we can use. The message is meant for the user."""


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image  # RGB, longest side <= MAX_SIDE, aspect <= MAX_ASPECT
    notes: tuple[str, ...]  # one sentence per change made on the way in, for the user


def _too_large(width: int, height: int) -> ImageInputError:
    return ImageInputError(
        f"The image is {width} x {height} pixels, more than the {MAX_PIXELS // 1_000_000} megapixels this app "
        "accepts (a picture that big would fill the server's memory). Please upload a smaller image."
    )


# The first bytes of files students upload by mistake -> what to call them. Only read when PIL (restricted to
# PIL_FORMATS) has already refused the file: this names the format, it never decodes anything.
_HEIC = "an HEIC photo (the format iPhones save in)"
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (  # (offset, magic bytes, what the file is)
    (0, b"II*\0", "a TIFF image"), (0, b"MM\0*", "a TIFF image"),
    (4, b"ftypheic", _HEIC), (4, b"ftypheix", _HEIC), (4, b"ftypmif1", "an HEIF photo"),
    (4, b"ftypmsf1", "an HEIF photo"), (4, b"ftypavif", "an AVIF image"), (4, b"ftypavis", "an AVIF image"),
    (4, b"ftyp", "a video"), (8, b"AVI ", "a video"), (0, b"\x1a\x45\xdf\xa3", "a video"),
    (8, b"WAVE", "a sound file"),
    (4, b"jP  ", "a JPEG 2000 image"), (0, b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
    (0, b"\xff\x0a", "a JPEG XL image"), (4, b"JXL ", "a JPEG XL image"),
    (0, b"8BPS", "a Photoshop (PSD) file"), (0, b"\0\0\1\0", "an icon (ICO) file"),
    (0, b"%!PS", "a PostScript (EPS) file"), (0, b"\xc5\xd0\xd3\xc6", "a PostScript (EPS) file"),
    (0, b"%PDF", "a PDF document"), (0, b"PK\x03\x04", "a ZIP file (or a Word or PowerPoint document)"),
    (0, b"\x76\x2f\x31\x01", "an OpenEXR image"), (0, b"#?RADIANCE", "an HDR image"),
)


def file_kind(data: bytes) -> str | None:
    """What a file PIL_FORMATS cannot read is, by its first bytes ("a TIFF image", "a PDF document"...), or None."""
    for offset, magic, name in _SIGNATURES:
        if data[offset:offset + len(magic)] == magic:
            return name
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "an SVG drawing"
    return None


def _unreadable(error: Exception, data: bytes = b"") -> ImageInputError:
    """The message for a file that PIL (restricted to PIL_FORMATS) could not read: its real format when we can
    tell it, else "damaged or not an image". Never the exception's class name: that means nothing to a student."""
    kind = file_kind(data) if isinstance(error, UnidentifiedImageError) else None
    if kind is not None:
        return ImageInputError(f"This file is {kind} (going by its contents, whatever its name), and this app "
                               f"cannot read that format. Please save or export it as {FORMATS_WANTED}, then "
                               "upload that.")
    if "truncated" in str(error).lower() or isinstance(error, EOFError):
        return ImageInputError("This image file is cut short: it ends before the picture does (an interrupted "
                               "download or copy?). Please upload the complete file.")
    return ImageInputError(
        "This file could not be read as an image: it may be damaged, cut short, or not a picture at all. Please "
        f"upload a {FORMATS_WANTED} file."
    )


_ORIENTATIONS = {  # EXIF orientation tag -> what exif_transpose does to show the photo the way it was taken
    2: "flipped left to right", 3: "rotated 180°", 4: "flipped upside down", 5: "flipped and rotated 90°",
    6: "rotated 90° clockwise", 7: "flipped and rotated 90°", 8: "rotated 90° counter-clockwise",
}
_SWAPS_SIDES = (5, 6, 7, 8)  # a quarter turn: width and height trade places


def _decode(data: bytes) -> tuple[Image.Image, list[str], tuple[int, int]]:
    """Open, check the size before decoding, pick frame 0, apply EXIF orientation, decode.
    Returns (image, notes, size upright: the size as stored with the orientation applied)."""
    notes: list[str] = []
    with Image.open(io.BytesIO(data), formats=PIL_FORMATS) as probe:
        original = upright = probe.size
        if probe.format in ("JPEG", "MPO"):
            probe.draft(probe.mode, (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale: cheap for big photos
        width, height = probe.size
        if width * height > MAX_PIXELS:
            raise _too_large(*original)
        frames = getattr(probe, "n_frames", 1)
        if frames > 1:
            probe.seek(0)
            notes.append(f"This is an animation with {frames} frames: the models see its first frame only.")
        orientation = probe.getexif().get(0x0112, 1)
        image = probe.copy() if frames > 1 else probe
        image.load()
        if orientation in _ORIENTATIONS:
            try:
                image = ImageOps.exif_transpose(image)
            except Exception:  # noqa: BLE001 - a malformed tag: show the pixels as stored
                notes.append("The photo's orientation tag (which says how the camera was held) could not be read: "
                             "it is shown as stored, not rotated.")
            else:
                upright = original[::-1] if orientation in _SWAPS_SIDES else original
                notes.append(f"The photo was {_ORIENTATIONS[orientation]}, as the camera's orientation tag asks, "
                             "so it shows the way it was taken.")
        image = image.copy()  # detached from the (closing) file
    return image, notes, upright


def _to_rgb(image: Image.Image, notes: list[str]) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16/32-bit greyscale: stretch to 0..255, not clip
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        notes.append("The image has more shades of grey than a screen shows (16 or 32 bits): scaled to the 256 "
                     "shades the models read.")
        return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA")
    elif mode == "PA":
        image = image.convert("RGBA")
    if "A" in image.getbands():
        rgba = image.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            notes.append("The image has transparent areas: they are shown on white.")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        notes.append("The image is in CMYK (print colours): converted to RGB, colours may shift slightly.")
    return image.convert("RGB")


def _fit_shape(image: Image.Image, notes: list[str], before: tuple[int, int]) -> Image.Image:
    """`before`: the image's size upright (after any EXIF rotation), so a turned photo is not called shrunk."""
    if max(image.size) > MAX_SIDE or image.size != before:  # JPEG draft decoding may already have shrunk it
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        notes.append(f"Shrunk from {before[0]} x {before[1]} to {image.size[0]} x {image.size[1]} pixels (the "
                     "models work at 384 px or less).")
    width, height = image.size
    if max(width, height) > MAX_ASPECT * min(width, height):
        target = (max(width, int(np.ceil(height / MAX_ASPECT))), max(height, int(np.ceil(width / MAX_ASPECT))))
        canvas = Image.new("RGB", target, PAD_COLOUR)
        canvas.paste(image, ((target[0] - width) // 2, (target[1] - height) // 2))
        notes.append(f"The image is {width} x {height}, a very long strip: padded with grey to {target[0]} x "
                     f"{target[1]} so the models' resizing keeps it whole.")
        image = canvas
    if min(image.size) < SMALL_SIDE:
        notes.append(f"The image is tiny ({image.size[0]} x {image.size[1]} px): the models enlarge it, so every "
                     "patch shows a few big pixels.")
    return image


def read_upload(data: bytes) -> LoadedImage:
    """Decode an upload into an RGB image the models can take, with a note for every change made on the way."""
    if not data:
        raise ImageInputError("The file is empty (0 bytes). Please choose an image file (PNG or JPEG).")
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        raise ImageInputError(f"The file is {len(data) / 2 ** 20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB. Please "
                              "upload a smaller image.")
    try:
        image, notes, upright = _decode(data)
    except ImageInputError:
        raise
    except Image.DecompressionBombError as error:  # PIL refuses before we can measure: say the same thing
        raise ImageInputError(
            f"The image says it has more than the {MAX_PIXELS // 1_000_000} megapixels this app accepts (a huge "
            "scan, or a file made to fill the server's memory). Please upload a smaller image.") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error,
            MemoryError) as error:
        raise _unreadable(error, data) from error
    image = _fit_shape(_to_rgb(image, notes), notes, upright)
    return LoadedImage(image, tuple(notes))


def load_image(data: bytes) -> Image.Image:
    """Decode an upload into an RGB image no larger than MAX_SIDE, honouring EXIF rotation (see `read_upload`)."""
    return read_upload(data).image


def to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def fit_width(image: Image.Image, width: int) -> Image.Image:
    """The image at most `width` px wide, shrunk the way st.image would (bilinear), never enlarged."""
    if image.width <= width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.BILINEAR)


@lru_cache(maxsize=32)  # the sidebar shows the chosen image on every rerun: shrink it once, not each time
def thumbnail_png(png: bytes, width: int) -> bytes:
    """The PNG at most `width` px wide, so that st.image sends it as it is instead of decoding, resizing and
    re-encoding the full image on every rerun."""
    image = Image.open(io.BytesIO(png))
    return png if image.width <= width else to_png(fit_width(image.convert("RGB"), width))


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str  # "shapes" (the bundled models' world) or "photo"
    question: str  # a sensible first question for this image
    caption: str  # what a good caption would say; the CLIP page's default text for it


SAMPLE_SCENES = {  # (seed, objects): seeds far above the training and test ranges of core/shapes/train.py
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
