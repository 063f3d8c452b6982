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
from core.concepts.early_fusion import FusionResult


def explorer_for(maps: AttentionMaps, key: str, selected: dict | None = None, title: str = "",
                 on_pin: Callable[[dict], None] | None = None, reverse: AttentionMaps | None = None) -> dict | None:
    """Any page's maps: keys that are patches on their grid over the model's image, or keys on a strip (e.g. audio
    frames). reverse: the other direction, the same patches as the queries (grid_side "queries") reading the same
    tokens (early fusion's image -> text); the explorer then switches between the two in the browser. Returns the
    pinned {layer, head, query, key} (and "direction" with reverse) or None."""
    if maps.grid_side != "keys":
        raise ValueError("the explorer's first maps have the tokens as queries; pass patch -> token maps as reverse")
    grid, image = (maps.patches.shape, maps.patches.image) if maps.patches is not None else (None, None)
    if reverse is not None and (reverse.grid_side != "queries" or reverse.keys != maps.queries
                                or reverse.weights.shape != maps.weights.shape[:2] + maps.weights.shape[:1:-1]):
        raise ValueError("reverse maps must be the same patches (as queries) reading the same tokens")
    return attention_explorer(maps.weights, maps.queries, grid, image, key=key, selected=selected, title=title,
                              on_pin=on_pin, reverse=None if reverse is None else reverse.weights)


def fusion_explorer(result: FusionResult, page: PageSpec) -> dict | None:
    """Early fusion's joint attention both ways across the modalities, patches in reading order (ViLT's shuffle
    undone): text -> image (a word's row over the patches) and image -> text (a patch's row over the words), one
    explorer with a direction switch. A pin moves the page's layer, head, token and patch widgets (so its link
    follows), in either direction: the token is the word, the patch the patch, whichever of them asked."""
    def pin(selection: dict) -> None:
        if isinstance(selection["layer"], int):  # the page's layer picker has no "mean over layers"
            st.session_state[page.key("layer")] = selection["layer"]
        st.session_state[page.key("head")] = selection["head"]
        st.session_state[page.key("token")] = selection["query"]
        if selection["key"] is not None:
            st.session_state[page.key("patch")] = selection["key"]

    return explorer_for(result.text_to_patch_maps(), key=page.key("explorer"), on_pin=pin,
                        title="Text → image and image → text, every layer and head, in your browser",
                        reverse=result.patch_to_text_maps())


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
