"""The CLIP page's gallery: the sidebar image first, then chosen samples and the student's own uploads (kept in
memory only), each paired with an editable caption. Editing the gallery keeps every caption the student typed."""
from __future__ import annotations

import streamlit as st

from components.widgets.inputs import Inputs, upload_png
from components.widgets.presets import clip_gallery_buttons
from core.classroom.presets import ClipGallery
from core.concepts import gallery
from core.inputs import images

THUMBNAIL_PX = 72

MAX_UPLOADS = 8  # each image costs one vision forward; eight keeps a shared 2-core server responsive
CAPTIONS_KEY, CAPTION_NAMES_KEY, PRESET_KEY = "clip_captions", "_clip_caption_names", "_clip_preset"


def _load_preset(preset: ClipGallery) -> None:
    """A preset button's on_click (before any widget is drawn): its first image goes to the sidebar, the others
    into the gallery, its captions (one per image, then the extra ones) into the caption list."""
    st.session_state["image_source"] = preset.images[0]
    st.session_state["text"] = images.samples()[preset.images[0]].question
    st.session_state["clip_gallery"] = list(preset.images[1:])
    st.session_state[CAPTIONS_KEY] = "\n".join(preset.captions)
    st.session_state[CAPTION_NAMES_KEY] = list(preset.images)
    st.session_state[PRESET_KEY] = preset


def _sidebar_item(inputs: Inputs, image_png: bytes) -> gallery.GalleryItem:
    sample = images.samples().get(inputs.image_name)
    caption = sample.caption if sample else (inputs.text or "a photo")  # an upload: what the student typed
    return gallery.GalleryItem(inputs.image_name, image_png, caption, sample.kind if sample else "upload")


def _uploads() -> list[gallery.GalleryItem]:
    # no type=[...]: the browser would drop other files silently; read_upload names a wrong format instead
    files = st.file_uploader(f"Add your own images ({images.FORMATS_WANTED}; kept in memory for this session only)",
                             accept_multiple_files=True, key="clip_uploads")
    items = []
    for file in (files or [])[:MAX_UPLOADS]:
        png = upload_png(file.getvalue(), where=st, name=file.name)  # one bad file only costs its own message
        if png is not None:
            items.append(gallery.GalleryItem(f"upload: {file.name}", png, "a photo", "upload"))
    if files and len(files) > MAX_UPLOADS:
        st.warning(f"Only the first {MAX_UPLOADS} uploads are used.")
    return items


def _sync_captions(items: list[gallery.GalleryItem]) -> None:
    """When the gallery changes, rebuild the caption list line by line: an image that stays keeps its (edited)
    caption, a new one brings its default, extra lines (captions with no image) stay at the end."""
    names = [item.name for item in items]
    previous = st.session_state.get(CAPTION_NAMES_KEY)
    if previous == names:
        return
    lines = st.session_state.get(CAPTIONS_KEY, "").splitlines() if previous else []
    kept = dict(zip(previous or [], lines))
    extra = lines[len(previous or []):]
    st.session_state[CAPTIONS_KEY] = "\n".join([kept.get(item.name, item.caption) for item in items] + extra)
    st.session_state[CAPTION_NAMES_KEY] = names
    st.session_state.pop(PRESET_KEY, None)  # the gallery moved away from the preset: its note no longer applies


def gallery_picker(inputs: Inputs, image_png: bytes) -> tuple[list[gallery.GalleryItem], list[str]]:
    """Draws the gallery controls; returns the images (sidebar image first) and the non-empty captions."""
    clip_gallery_buttons(_load_preset, key="clip_presets")
    preset: ClipGallery | None = st.session_state.get(PRESET_KEY)
    if preset is not None:
        st.info(f"**{preset.title}**: caption {preset.confusing} is the confusing one. {preset.why}")
    catalogue = gallery.catalogue()
    first = _sidebar_item(inputs, image_png)
    options = [name for name in catalogue if name != first.name]
    defaults = [name for name in gallery.default_names(inputs.pack) if name in options]
    chosen = st.multiselect("Gallery images (the sidebar image always comes first)", options, default=defaults,
                            key="clip_gallery")
    items = [first] + [catalogue[name] for name in chosen] + _uploads()
    if len(items) < gallery.MIN_GALLERY:
        st.caption(f"{len(items)} images: the projections read better with {gallery.MIN_GALLERY} or more.")
    st.image([images.thumbnail_png(item.png, THUMBNAIL_PX) for item in items], width=THUMBNAIL_PX, output_format="PNG",
             caption=[f"{i}. {item.name}" for i, item in enumerate(items)])
    _sync_captions(items)
    text = st.text_area("Captions, one per line: line i belongs to image i; lines beyond the images are extra "
                        "captions with no image of their own", key=CAPTIONS_KEY, height=200)
    return items, [line.strip() for line in text.splitlines() if line.strip()]
