"""Ready-made examples on a page, one click each, and the home page's list of them as links.

A preset is loaded exactly like a shared link (components.widgets.deep_link.load): the sidebar's image and text change,
and the page's own choices (layer, head, predict mode) are applied by the page's `apply_view` on the next run.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from components.widgets import deep_link, inputs
from core.classroom.deep_link import base_url, link
from core.classroom.page_table import PAGE_TABLE
from core.classroom.presets import ClipGallery, Preset, clip_galleries, presets_for

_NOTICE = "_preset_notice"


def _load(preset: Preset) -> None:
    deep_link.load(preset.view)
    st.session_state[_NOTICE] = preset


def preset_buttons(page: str) -> None:
    """A row of this page's presets (page: its url path). After one is clicked, its 'what to look for' shows."""
    choices = presets_for(page)
    if not choices:
        return
    with st.container(horizontal=True, key=f"{page}_presets", vertical_alignment="center"):
        st.markdown("**Try:**")
        for i, preset in enumerate(choices):
            st.button(preset.title, key=f"{page}_preset_{i}", on_click=_load, args=(preset,), help=preset.notice,
                      type="secondary", icon=":material/play_arrow:")
    loaded: Preset | None = st.session_state.get(_NOTICE)
    now = inputs.current()
    still_loaded = loaded and loaded.view.image == now.image_name and loaded.view.text in (None, now.text)
    if still_loaded and loaded.view.page == page:  # the notice goes once the student picks another image or text
        st.info(f"**{loaded.title}**: {loaded.notice}", icon=":material/lightbulb:")


def classroom_links() -> None:
    """Home page: every preset as a link a TA can send (it opens the page with that example loaded)."""
    base = base_url(st.context.url, "")
    lines = []
    for spec in PAGE_TABLE:
        items = [f"[{p.title}]({link(base, p.view)})" for p in presets_for(spec.name)]
        if items:
            lines.append(f"- **{spec.title}**: " + " · ".join(items))
    st.markdown("\n".join(lines))


def clip_gallery_buttons(on_pick: Callable[[ClipGallery], None], key: str = "clip_gallery") -> None:
    """For the CLIP page: one button per gallery preset (core.classroom.presets.clip_galleries). A click calls
    on_pick(gallery) before the rerun, so it may set the page's own widget keys (images, captions); the gallery's
    `why` shows as the button's tooltip and is worth showing next to the figure."""
    with st.container(horizontal=True, key=f"{key}_row", vertical_alignment="center"):
        st.markdown("**Try:**")
        for i, gallery in enumerate(clip_galleries()):
            st.button(gallery.title, key=f"{key}_{i}", help=gallery.why, icon=":material/play_arrow:",
                      on_click=on_pick, args=(gallery,))
