"""Cross-attention: the token x patch matrix of one layer and head, where the chosen token looked, and the download."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.attention_matrix import attention_matrix
from components.figures.patch_overlay import patch_overlay
from components.widgets.export import chart_config, export_matrix
from core.concepts.cross_attention import CrossAttentionResult


def token_patch_section(result: CrossAttentionResult, matrix: np.ndarray, layer, head,
                        token: int, question: str, pack: str) -> None:
    """matrix: (T, N), the question tokens' attention over the patches in reading order."""
    patch_labels = result.patches.labels()
    left, right = st.columns([3, 2])
    stem = f"cross-attention_layer-{layer}_head-{head}"
    matrix_figure = attention_matrix(matrix, result.tokens, patch_labels, title="Token x patch cross-attention",
                                     height=360)
    left.plotly_chart(matrix_figure, key="token_patch_matrix", config=chart_config(stem))
    right.plotly_chart(patch_overlay(result.patches, result.patches.on_grid(matrix[token]),
                                     title=f"Where “{result.tokens[token]}” looked"), key="token_heatmap",
                       config=chart_config(f"{stem}_{result.tokens[token]}"))
    st.caption("Columns are patches in reading order; the weight on the image's CLS token is left out, so a row can "
               "sum to less than 1. Download the matrix with its token and patch labels (or hover a chart and use "
               "its camera button for a PNG):")
    export_matrix(matrix, result.tokens, patch_labels, stem, key="cross_export", figure=matrix_figure,
                  corner="token \\ patch", layer=str(layer), head=str(head), question=question,
                  answer=result.answer, pack=pack)
