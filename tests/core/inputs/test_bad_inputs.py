"""The bad-input corpus: every kind of upload and text a classroom sends, generated here (nothing downloaded).

Each case has an expected outcome: a clear error message, an explained fallback (a note: first frame, rotation,
truncation...), or plain success. The corpus runs twice: through core (images.read_upload, text_limits.prepare)
and through the app's real sidebar path in one AppTest session, one case after another, so a bad input followed
by the next input also shows that the page keeps working. Outcomes are printed at the end of the run
(tests/corpus_report.py).
"""
from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.inputs import images, text_limits
from tests import corpus_report
from tests.conftest import ROOT

ERROR, NOTE, OK = "error message", "note", "ok"


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def scene(size=(96, 64), mode="RGB") -> Image.Image:
    """Something to look at: a red square on blue, in the given mode."""
    image = Image.new("RGB", size, (40, 60, 200))
    w, h = size
    image.paste((220, 30, 30), (w // 4, h // 4, max(w // 4 + 1, 3 * w // 4), max(h // 4 + 1, 3 * h // 4)))
    return image.convert(mode)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bilevel_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, compressed row block by row block (a 30000^2 one is ~100 kB)."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    block = row * 256
    parts = [compressor.compress(block) for _ in range(height // 256)]
    parts += [compressor.compress(row * (height % 256)), compressor.flush()]
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"".join(parts)) + \
        png_chunk(b"IEND", b"")


def flip_bytes(data: bytes, start: float, n: int = 64) -> bytes:
    i = int(len(data) * start)
    return data[:i] + bytes(b ^ 0xFF for b in data[i:i + n]) + data[i + n:]


def exif_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(scene((120, 60)), "JPEG", exif=exif)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def translucent(mode: str) -> bytes:
    rgba = scene((80, 80), "RGBA")
    rgba.putalpha(128)
    if mode == "P":
        paletted = scene((80, 80)).convert("P")
        return encode(paletted, "PNG", transparency=paletted.getpixel((0, 0)))  # the background colour
    return encode(rgba.convert(mode))


def sixteen_bit() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 80).astype(np.uint16), (60, 1))
    return encode(Image.fromarray(ramp))


@dataclass(frozen=True)
class ImageCase:
    name: str
    make: Callable[[], bytes]
    expect: str
    says: str  # a fragment of the message or note, lower case
    filename: str = "upload.png"


IMAGE_CASES = [
    ImageCase("zero bytes", lambda: b"", ERROR, "empty"),
    ImageCase("text file named .png", lambda: b"hello, this is my homework\n" * 20, ERROR, "could not be read"),
    ImageCase("HTML page named .jpg", lambda: b"<html><script>alert(1)</script></html>", ERROR,
              "could not be read", "upload.jpg"),
    ImageCase("PNG signature only", lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 20, ERROR, "could not be read"),
    ImageCase("truncated PNG", lambda: encode(scene((200, 200)))[:400], ERROR, "image"),
    ImageCase("truncated JPEG", lambda: encode(scene((200, 200)), "JPEG")[:700], ERROR, "cut short",
              "upload.jpg"),
    ImageCase("corrupt PNG data (bad CRC)", lambda: flip_bytes(encode(scene((200, 200))), 0.5), ERROR, "image"),
    ImageCase("corrupt JPEG header", lambda: flip_bytes(encode(scene((200, 200)), "JPEG"), 0.0, 40), ERROR,
              "could not be read", "upload.jpg"),
    ImageCase("TIFF (not an allowed format)", lambda: encode(scene(), "TIFF"), ERROR, "tiff image", "upload.png"),
    ImageCase("TIFF named .tif", lambda: encode(scene(), "TIFF"), ERROR, "tiff image", "scan.tif"),
    ImageCase("HEIC photo (iPhone)", lambda: b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 200, ERROR, "heic",
              "IMG_0001.HEIC"),
    ImageCase("PDF document", lambda: encode(scene(), "PDF"), ERROR, "pdf document", "homework.pdf"),
    ImageCase("SVG drawing", lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', ERROR,
              "svg drawing", "logo.svg"),
    ImageCase("over the 10 MB upload limit", lambda: encode(scene()) + b"\0" * (10 * 2 ** 20), ERROR, "limit"),
    ImageCase("decompression bomb 30000^2, 110 kB", lambda: bilevel_png(30_000, 30_000), ERROR, "megapixels"),
    ImageCase("20000 x 20000 image", lambda: bilevel_png(20_000, 20_000), ERROR, "megapixels"),
    ImageCase("7000 x 7000 (just over 40 MP)", lambda: bilevel_png(7_000, 7_000), ERROR, "megapixels"),
    ImageCase("1 x 1 image", lambda: encode(Image.new("RGB", (1, 1), "red")), NOTE, "tiny"),
    ImageCase("1 x 4000 image", lambda: encode(scene((1, 4000))), NOTE, "padded"),
    ImageCase("4000 x 1 image", lambda: encode(scene((4000, 1))), NOTE, "padded"),
    ImageCase("3000 x 2000 JPEG photo", lambda: encode(scene((3000, 2000)), "JPEG"), NOTE, "shrunk",
              "upload.jpg"),
    ImageCase("mode L (grey)", lambda: encode(scene(mode="L")), OK, ""),
    ImageCase("mode 1 (bilevel)", lambda: encode(scene(mode="1")), OK, ""),
    ImageCase("mode LA, half transparent", lambda: translucent("LA"), NOTE, "transparent"),
    ImageCase("mode P (palette)", lambda: encode(scene(mode="P")), OK, ""),
    ImageCase("mode P with a transparent colour", lambda: translucent("P"), NOTE, "transparent"),
    ImageCase("mode RGBA, half transparent", lambda: translucent("RGBA"), NOTE, "transparent"),
    ImageCase("mode CMYK JPEG", lambda: encode(scene(mode="CMYK"), "JPEG"), NOTE, "cmyk", "upload.jpg"),
    ImageCase("mode I;16 (16-bit grey)", sixteen_bit, NOTE, "scaled"),
    ImageCase("animated GIF, 3 frames", animated_gif, NOTE, "first frame", "upload.gif"),
    ImageCase("EXIF-rotated photo (90 deg)", lambda: exif_jpeg(6), NOTE, "rotated 90° clockwise", "upload.jpg"),
    ImageCase("EXIF-rotated photo (180 deg)", lambda: exif_jpeg(3), NOTE, "rotated 180°", "upload.jpg"),
    ImageCase("PNG content named .jpg", lambda: encode(scene()), OK, "", "upload.jpg"),
    ImageCase("BMP", lambda: encode(scene(), "BMP"), OK, "", "upload.bmp"),
    ImageCase("WEBP", lambda: encode(scene(), "WEBP"), OK, "", "upload.webp"),
]


@dataclass(frozen=True)
class TextCase:
    name: str
    text: str
    expect: str  # ERROR here means "the page asks for a question"
    says: str


TEXT_CASES = [
    TextCase("empty question", "", ERROR, "empty"),
    TextCase("whitespace only", " \t  \n ", ERROR, "empty"),
    TextCase("zero-width space only", "\u200b\u200b", ERROR, "empty"),
    TextCase("10 000 characters", "what color is the circle? " * 385, NOTE, "characters"),
    TextCase("longer than the model's max tokens", "what color is the circle " * 7, NOTE, "too long"),
    TextCase("emoji", "what color is the 🔴 circle? 🎉👍🏽", NOTE, "[unk]"),
    TextCase("right-to-left (Arabic)", "ما لون الدائرة؟", NOTE, "[unk]"),
    TextCase("right-to-left (Hebrew) + bidi override", "\u202eמה הצבע what color is the circle?", NOTE,
             "control"),
    TextCase("control characters", "what\x00 color\x1b[31m is\x07 the circle?", NOTE, "control"),
    TextCase("HTML/script", "<script>alert(1)</script><img src=x onerror=alert(2)> what color is the circle?", NOTE,
             "[unk]"),  # the bundled models' vocabulary is the shapes world's: most of this is unknown
    TextCase("markdown + LaTeX", "**what** color is $x^2$ the [circle](javascript:alert(1))?", NOTE, "[unk]"),
    TextCase("newlines and tabs", "what\tcolor\nis the\n\ncircle?", NOTE, "3 lines; they were joined"),
    TextCase("pasted paragraph, final newline", "what color\nis the circle?\n", NOTE, "2 lines; they were joined"),
    TextCase("one line and a final Enter", "what color is the circle?\n", OK, ""),
]


JARGON = re.compile(r"\w*(Error|Exception)\b|\bPIL\b|errno|Traceback")  # what means nothing to a student


def observed_image(case: ImageCase) -> tuple[str, str]:
    try:
        loaded = images.read_upload(case.make())
    except images.ImageInputError as error:
        return ERROR, str(error)
    assert loaded.image.mode == "RGB"
    assert max(loaded.image.size) <= images.MAX_SIDE
    assert max(loaded.image.size) <= images.MAX_ASPECT * min(loaded.image.size)
    return (NOTE, " ".join(loaded.notes)) if loaded.notes else (OK, "")


@pytest.mark.parametrize("case", IMAGE_CASES, ids=[c.name for c in IMAGE_CASES])
def test_core_image_case(case):
    outcome, message = observed_image(case)
    corpus_report.record(case.name, "core", outcome, message)
    assert outcome == case.expect, message
    assert case.says in message.lower()
    assert not JARGON.search(message), message


@pytest.mark.parametrize("case", TEXT_CASES, ids=[c.name for c in TEXT_CASES])
def test_core_text_case(case):
    fitted = text_limits.prepare(case.text, "bundled")
    outcome = ERROR if not fitted.text else NOTE if fitted.notes else OK
    said = " ".join(fitted.notes) + (" (empty: the page asks for a question)" if outcome == ERROR else "")
    corpus_report.record(case.name, "core", outcome, said)
    assert outcome == case.expect, fitted
    assert len(fitted.text) <= text_limits.MAX_TEXT_CHARS
    assert case.says in said.lower()
    for role in text_limits.TEXT_ROLES:  # what the models get fits every one of them
        tokenizer, _ = text_limits.tokenizer_for("bundled", role)
        assert len(tokenizer(fitted.text).input_ids) <= text_limits.max_tokens(tokenizer, role)


def test_the_corpus_is_big_enough():
    assert len(IMAGE_CASES) + len(TEXT_CASES) >= 30


def messages(at: AppTest) -> str:
    return " ".join(e.value for e in list(at.sidebar.error) + list(at.sidebar.info) + list(at.warning))


def test_every_image_case_through_the_real_sidebar_one_after_another():
    """One student session uploads the whole corpus in turn: each gets its message or note, never a traceback,
    and the page draws again for the next good image."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/patching.py").run()
    at.selectbox(key="image_source").set_value("upload an image").run()
    for case in IMAGE_CASES:
        at.file_uploader(key="upload").set_value((case.filename, case.make(), "image/png")).run()
        assert not at.exception, (case.name, [e.value for e in at.exception])
        errors = [e.value for e in at.sidebar.error]
        notes = [i.value for i in at.sidebar.info if i.value.startswith("Note:")]
        outcome = ERROR if errors else NOTE if notes else OK
        corpus_report.record(case.name, "app", outcome, " ".join(errors or notes))
        assert outcome == case.expect, (case.name, errors, notes)
        assert case.says in " ".join(errors + notes).lower(), case.name
        assert not JARGON.search(" ".join(errors + notes)), (case.name, errors, notes)
        if outcome == ERROR:
            assert any("Choose an image" in i.value for i in at.info), case.name
        else:  # the page ran the vision tower on it
            assert at.metric and at.metric[0].value.endswith("= 16 x 16"), case.name  # an upload: DINOv2, 224 px


@pytest.mark.parametrize("page", ["pages/early_fusion.py", "pages/cross_attention.py"])
def test_every_text_case_as_the_question(page):
    """Each question in turn on a page that answers it: a message for nothing to ask, a note for a cut, and the
    answer for everything else; user text shows as text (escaped), never as markup."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page(page).run()
    for case in TEXT_CASES:
        at.text_area(key="text").set_value(case.text).run()
        assert not at.exception, (case.name, [e.value for e in at.exception])
        empty = [w.value for w in at.warning if "empty" in w.value]
        notes = [i.value for i in at.sidebar.info if i.value.startswith("Note:")]
        outcome = ERROR if empty else NOTE if notes else OK
        corpus_report.record(case.name, "app", outcome, " ".join(empty or notes) + f" ({page.split('/')[1]})")
        assert outcome == case.expect, (case.name, empty, notes)
        assert case.says in " ".join(empty + notes).lower(), case.name
        if outcome != ERROR:
            assert at.subheader[0].value.startswith("Answer:"), case.name
        for caption in at.caption:
            assert "<script>" not in caption.value and "**what**" not in caption.value
    at.text_area(key="text").set_value("what color is the circle?").run()  # and back to a normal question
    assert not at.exception and at.subheader[0].value.startswith("Answer:")


def test_markdown_escape_shows_user_text_literally():
    escaped = text_limits.escape_markdown("<b>*x*</b> $y$ [a](b)")
    assert "<" not in escaped.replace("\\<", "") and "$" not in escaped.replace("\\$", "")
