"""Early fusion, across modalities both ways: where a text token looked in the image, which words a patch reads."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.figures.token_bars import token_bars
from components.widgets.clickable_grid import clickable_patch_grid
from core.classroom.page_table import PageSpec
from core.concepts.cross_attention import naming_token
from core.concepts.early_fusion import FusionResult


def fusion_readers(result: FusionResult, matrix_stream: np.ndarray, page: PageSpec) -> int:
    """matrix_stream: (S, S) in ViLT's own token order. Returns the chosen text token."""
    left, right = st.columns(2)
    with left:
        text_options = list(range(result.n_text))
        text_token = st.segmented_control("Text token", text_options,
                                          default=naming_token(result.tokens[:result.n_text]),
                                          key=page.key("token"), format_func=lambda i: result.tokens[i])
        text_token = naming_token(result.tokens[:result.n_text]) if text_token is None else text_token
        st.plotly_chart(patch_overlay(result.patches, result.text_to_patches(matrix_stream, text_token),
                                      title=f"Where “{result.tokens[text_token]}” looked in the image"),
                        key="fusion_token_heatmap")
    with right:
        rows, cols = result.grid
        st.markdown("**Which words does a patch read?** Click a patch.")
        clickable_patch_grid(result.patches, state_key=page.key("patch"), click_key="fusion_patch_click")
        r, c = divmod(st.session_state.get(page.key("patch"), 0), cols)
        st.plotly_chart(token_bars(result.patch_to_text(matrix_stream, r, c), result.tokens[:result.n_text],
                                   title=f"Attention from patch p({r},{c}) to the text"), key="fusion_patch_tokens")
    return text_token
