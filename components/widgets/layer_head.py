"""Layer and head pickers shared by the attention pages."""
from __future__ import annotations

import streamlit as st

from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN


def layer_head_selectors(n_layers: int, n_heads: int, key: str, allow_layer_mean: bool = False):
    """Two controls side by side; returns (layer, head) in core.attention.select's terms."""
    left, right = st.columns(2)
    layers = ([LAYER_MEAN] if allow_layer_mean else []) + list(range(n_layers))
    layer = left.selectbox("Layer", layers, index=len(layers) - 1, key=f"{key}_layer",
                           format_func=lambda v: "mean over layers" if v == LAYER_MEAN else f"layer {v}")
    heads = [HEAD_MEAN, HEAD_MAX] + list(range(n_heads))
    head = right.selectbox("Head", heads, key=f"{key}_head",
                           format_func=lambda v: {HEAD_MEAN: "mean over heads", HEAD_MAX: "max over heads"}.get(
                               v, f"head {v}"))
    return layer, head
