"""The inputs every page shares: model pack, image, and the question/caption text.

`render_sidebar` (called by app.py on every rerun, before the page) draws the widgets; their keys keep their
values as the user moves between pages. Pages read the result with `current()`.
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.service import models
from core.inputs import images, text_limits
from core.models import registry

UPLOAD, CAMERA = "upload an image", "take a photo"
DEFAULT_IMAGE = {"bundled": "shapes: two objects", "hub": "photo: cat"}
SIDEBAR_IMAGE_PX = 160
MAX_TEXT_CHARS = text_limits.MAX_TEXT_CHARS  # longer text is cut with a note (core/inputs/text_limits.py)
TEXT_BOX_PX = 68  # two lines, Streamlit's smallest text area: a question rarely needs more


@dataclass(frozen=True)
class Inputs:
    pack: str
    image_name: str
    image_png: bytes | None  # None when the chosen upload is missing or unreadable
    text: str  # stripped; may be empty


def _on_image_change() -> None:
    sample = images.samples().get(st.session_state["image_source"])
    if sample is not None:
        st.session_state["text"] = sample.question


@st.cache_data(show_spinner=False, max_entries=16)  # in memory only; a rerun (layer, head) must not decode again
def _decoded_upload(data: bytes) -> tuple[bytes, tuple[str, ...]]:
    loaded = images.read_upload(data)  # bytes in, an image out, nothing written to disk
    return images.to_png(loaded.image), tuple(loaded.notes)


def upload_png(data: bytes, where=st.sidebar, name: str = "") -> bytes | None:
    """An uploaded file as PNG bytes, decoded once per distinct file; its notes (rotation applied, first frame...)
    and any error go to `where` (the sidebar, or the page), prefixed with `name`. None when it cannot be read."""
    prefix = f"{name}: " if name else ""
    try:
        png, notes = _decoded_upload(data)
    except images.ImageInputError as error:
        where.error(prefix + str(error))
        return None
    except Exception:  # noqa: BLE001 - a decoder bug must not become a traceback for the student
        where.error(f"{prefix}This file could not be read as an image. Please try another {images.FORMATS_WANTED} "
                    "file.")
        return None
    for note in notes:
        where.info(f"{prefix}Note: {note}")
    return png


def _image_from_upload(data: bytes | None, what: str) -> bytes | None:
    if data is None:
        st.sidebar.info(f"No {what} yet: use the control above.")
        return None
    return upload_png(data)


PACK_WORDS = {"hub": "the real checkpoints",
              "bundled": "tiny models trained on the shapes world; real DINOv2 and Whisper weights installed with "
                         "the app"}


def pack_caption(pack: str, choice: registry.PackChoice) -> str:
    """The sidebar's line on which models run: the live pack, and the automatic choice only when it differs."""
    line = f"Live pack: **{pack}** ({PACK_WORDS[pack]})"
    if pack == choice.pack:
        return f"{line}, because {choice.reason}."
    line += f", your choice; the automatic one was **{choice.pack}**, because {choice.reason}."
    if pack == "hub":
        line += " A page whose real model is not on this server says so and shows the bundled one."
    return line


def render_sidebar() -> Inputs:
    choice = models.pack_choice()
    sidebar = st.sidebar
    sidebar.header("Inputs")
    if "pack" not in st.session_state:
        st.session_state["pack"] = choice.pack
    pack = sidebar.radio("Model pack", registry.PACKS, key="pack", horizontal=True,
                         help="hub: the real checkpoints (downloaded once). bundled: tiny models of the same "
                              "classes, trained on the shapes world, shipped with the app (works offline).")
    sidebar.caption(pack_caption(pack, choice))
    if choice.fallback and not st.session_state.get("fallback_announced"):
        st.session_state["fallback_announced"] = True
        st.toast("Offline: using the bundled tiny models.")
        sidebar.warning("The Hugging Face hub is not reachable, so the app runs on the bundled tiny models.")

    options = list(images.samples()) + [UPLOAD, CAMERA]
    if "image_source" not in st.session_state:
        st.session_state["image_source"] = DEFAULT_IMAGE[pack] if DEFAULT_IMAGE[pack] in options else options[0]
        st.session_state["text"] = images.samples()[st.session_state["image_source"]].question
    source = sidebar.selectbox("Image", options, key="image_source", on_change=_on_image_change)
    if source == UPLOAD:
        # no type=[...]: the browser would refuse other files silently and leave the last image and answer up;
        # here every file reaches read_upload, which names its format and clears the page
        upload = sidebar.file_uploader(f"Upload an image ({images.FORMATS_WANTED})", key="upload")
        image_png = _image_from_upload(upload.getvalue() if upload else None, "upload")
    elif source == CAMERA:
        photo = sidebar.camera_input("Take a photo", key="camera")
        image_png = _image_from_upload(photo.getvalue() if photo else None, "photo")
    else:
        image_png = images.sample_png(source)
    if image_png is not None:
        sidebar.image(images.thumbnail_png(image_png, SIDEBAR_IMAGE_PX), caption=source, width=SIDEBAR_IMAGE_PX,
                      output_format="PNG")  # PNG bytes sent as they are ("auto" would re-encode a JPEG)

    # a text area, not a text input: a browser's <input> turns a pasted text's line breaks into spaces before the
    # server sees them, so the note "the text had 3 lines" could never be shown (tests/core/inputs/test_inputs.py)
    text = sidebar.text_area("Question or caption", key="text", max_chars=MAX_TEXT_CHARS, height=TEXT_BOX_PX,
                             help="Every page uses this text: as the question (cross-attention, early fusion) or "
                                  "as an extra caption (CLIP space). Ctrl+Enter (or clicking elsewhere) applies "
                                  "it; several lines are read as one.")
    sample = images.samples().get(source)
    if pack == "bundled" and (sample is None or sample.kind == "photo"):
        sidebar.caption("The bundled CLIP, BLIP and ViLT only know the shapes world: on photos their answers are "
                        "guesses. Patching (DINOv2) and Listening (Whisper) run real weights.")
    fitted = text_limits.prepare(text, pack)  # cleaned, and cut to the tightest model's max tokens
    for note in fitted.notes:
        sidebar.info(f"Note: {note}")
    inputs = Inputs(pack, source, image_png, fitted.text)
    st.session_state["_inputs"] = inputs
    return inputs


def current() -> Inputs:
    """The inputs the sidebar resolved on this rerun."""
    return st.session_state["_inputs"]


def require_image(inputs: Inputs) -> bytes:
    if inputs.image_png is None:
        st.info("Choose an image in the sidebar (a sample, an upload or a camera photo) to start.")
        st.stop()
    return inputs.image_png


def require_text(inputs: Inputs, what: str = "question") -> str:
    if not inputs.text:
        st.warning(f"The {what} is empty: type one in the sidebar.")
        st.stop()
    return inputs.text
