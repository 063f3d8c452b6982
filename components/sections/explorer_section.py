"""The linked attention explorer for a page's result: every layer and head in the browser, hover to see, click to
pin (components/widgets/attention_explorer.py)."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components.widgets.attention_explorer import attention_explorer
from core.attention import HEAD_MEAN
from core.attention.maps import AttentionMaps
from core.classroom.page_table import PageSpec
from core.concepts.cross_attention import CrossAttentionResult, naming_token


def explorer_for(maps: AttentionMaps, key: str, selected: dict | None = None, title: str = "",
                 on_pin: Callable[[dict], None] | None = None) -> dict | None:
    """Any page's maps: keys that are patches on their grid over the model's image, or keys on a strip (e.g. audio
    frames). Returns the pinned {layer, head, query, key} or None."""
    grid, image = (maps.patches.shape, maps.patches.image) if maps.patches is not None else (None, None)
    return attention_explorer(maps.weights, maps.queries, grid, image, key=key, selected=selected, title=title,
                              on_pin=on_pin)


def explorer_section(result: CrossAttentionResult, page: PageSpec, context: tuple, layer, head, token: int
                     ) -> dict | None:
    """The question tokens' cross-attention over the image patches (CLS column dropped), over the model's image,
    opened on the page's layer, head and token. A pin moves the page's own widgets (layer, head, token, patch), so
    the page's shared link records it; context: (image name, question), what the pinned patch belongs to."""
    def pin(selection: dict) -> None:
        st.session_state[page.key("layer")], st.session_state[page.key("head")] = selection["layer"], selection["head"]
        st.session_state[page.key("token")] = selection["query"]
        if selection["key"] is not None:
            st.session_state[page.key("patch")] = selection["key"]
            st.session_state[f"{page.keys}_patch_for"] = (*context, selection["query"])  # keep the pinned patch

    maps = result.token_patch_maps()
    start = {"layer": maps.n_layers - 1, "head": HEAD_MEAN, "query": naming_token(result.tokens)}
    chosen = {"layer": layer, "head": head, "query": token}
    return explorer_for(maps, key=page.key("explorer"),
                        selected={**start, **{k: v for k, v in chosen.items() if v is not None}},
                        title="Every layer and head, in your browser", on_pin=pin)
