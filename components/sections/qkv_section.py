"""Cross-attention: "The math, with this model's real numbers", softmax(QKᵀ/√d_k)V for one layer, head and token.

Closed until opened: the attention block it reruns and its four charts were 58% of a Cross-attention page view's
server time (py-spy, 30 students on one link), spent for a panel most views never open."""
from __future__ import annotations

import streamlit as st

from components.sections.qkv_panel import qkv_panel
from components.service import models
from core.attention import LAYER_MEAN

KEY = "cross_math"


def qkv_section(pack: str, image_png: bytes, question: str, n_layers: int, layer, head, token: int) -> None:
    """A mean or max over layers or heads has no single formula: the last layer and head 0 stand in for it."""
    box = st.expander("The math, with this model's real numbers", key=KEY, on_change="rerun")
    with box:
        if not box.open:  # closed: no block rerun, no charts
            return
        math_layer = n_layers - 1 if layer == LAYER_MEAN else int(layer)
        math_head = head if isinstance(head, int) else 0
        if (math_layer, math_head) != (layer, head):
            st.caption(f"The formula runs one head of one layer: showing layer {math_layer}, head {math_head}.")
        qkv_panel(models.cross_attention_math(pack, image_png, question, math_layer, math_head, token), key="qkv")
