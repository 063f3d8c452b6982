"""The cross-attention formula with the model's real numbers: Q, K, V, scores, softmax, context, residual."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.attention.qkv_math import CrossAttentionMath


def _vector(values: np.ndarray, title: str, x_title: str) -> go.Figure:
    fig = go.Figure(go.Bar(y=values, marker_color="#1f77b4"))
    fig.update_layout(title=title, height=220, margin=dict(l=10, r=10, t=40, b=10), xaxis_title=x_title)
    return fig


def qkv_panel(math: CrossAttentionMath, key: str) -> None:
    n_keys = math.K.shape[0]
    st.markdown(
        f"Layer {math.layer}, head {math.head}, token **{math.token}**. "
        f"$q = x W_Q$ is {math.q.shape[0]} numbers (d_k = {math.d_k}); the image gives {n_keys} keys and values "
        f"(image CLS + {n_keys - 1} patches), $K, V$ of shape {math.K.shape}."
    )
    left, right = st.columns(2)
    left.plotly_chart(_vector(math.q, "query q (from the text token)", "dimension"), key=f"{key}_q")
    right.plotly_chart(_vector(math.scores, "scores = q·Kᵀ / √d_k", "image token (0 = CLS)"), key=f"{key}_scores")
    left.plotly_chart(_vector(math.weights, "softmax(scores): the attention row", "image token (0 = CLS)"),
                      key=f"{key}_weights")
    right.plotly_chart(_vector(math.context, "context = Σ weights · V (this head)", "dimension"),
                       key=f"{key}_context")
    st.markdown(
        "The heads' contexts are concatenated, projected by $W_O$, **added to the token's own state** (the residual "
        "connection: the text stream keeps what it had and gains what it saw) and layer-normalised."
    )
    st.metric("max |numpy softmax − model's attention|", f"{math.max_abs_difference:.1e}",
              help="The same row recomputed here in numpy from this layer's weights and inputs, against the "
                   "attention weights the model itself returned.")
    st.caption(f"After the residual combine, numpy and the model differ by at most "
               f"{np.abs(math.out - math.model_out).max():.1e}.")
