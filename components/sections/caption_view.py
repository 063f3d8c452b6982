"""Captioning mode: the caption, a slider over decoding steps, and that step's cross-attention over the image."""
from __future__ import annotations

import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.sections.explorer_section import explorer_for
from components.widgets.layer_head import layer_head_selectors
from core.attention import select
from core.concepts.captioning import CaptionResult
from core.models import blip


def caption_view(result: CaptionResult) -> None:
    st.subheader(f"Caption: {result.caption or '(empty)'}")
    if not result.words:
        st.info("The model produced no words for this image.")
        return
    n_layers, n_heads = result.cross_attentions.shape[:2]
    layer, head = layer_head_selectors(n_layers, n_heads, key="caption", allow_layer_mean=True)
    step = st.select_slider("Decoding step", options=list(range(len(result.words))), key="caption_step",
                            format_func=lambda s: f"{s + 1}: {result.words[s]}",
                            help="Each step writes one word; the heatmap shows where the decoder looked to choose it.")
    row = blip.IMAGE_TOKENS.patches(select(result.cross_attentions, layer, head)[step])  # (N,) patches only
    st.plotly_chart(patch_overlay(result.patches, result.patches.on_grid(row),
                                  title=f"Looking at the image to write “{result.words[step]}”"), key="caption_heatmap")

    def pin(selection: dict) -> None:  # a pinned word, layer and head move the slider and the selectors above
        st.session_state["caption_layer"], st.session_state["caption_head"] = selection["layer"], selection["head"]
        st.session_state["caption_step"] = selection["query"]

    explorer_for(result.word_patch_maps(), key="caption_explorer", on_pin=pin,
                 selected={"layer": layer, "head": head, "query": step},
                 title="Every decoding step, layer and head, in your browser: hover a word")
