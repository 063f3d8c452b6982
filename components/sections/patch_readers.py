"""Cross-attention: "Which tokens looked at this patch?", a patch picked on the image and every token's weight on it."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.token_bars import token_bars
from components.widgets.clickable_grid import clickable_patch_grid
from core.classroom.page_table import PageSpec
from core.concepts.cross_attention import CrossAttentionResult


def patch_readers(result: CrossAttentionResult, matrix: np.ndarray, page: PageSpec,
                  image_name: str, question: str, token: int) -> int:
    """matrix: (T, N). Returns the chosen patch; a new image, question or token starts at the token's top patch."""
    st.markdown("**Which tokens looked at this patch?** Click a patch (or pick it below).")
    if st.session_state.get("cross_patch_for") != (image_name, question, token):  # new view: start at the top patch
        st.session_state["cross_patch_for"] = (image_name, question, token)
        st.session_state[page.key("patch")] = int(matrix[token].argmax())
    patch_labels = result.patches.labels()
    left, right = st.columns([2, 3])
    with left:
        clickable_patch_grid(result.patches, state_key=page.key("patch"), click_key="cross_patch_click")
        patch = st.selectbox("Patch", range(len(patch_labels)), key=page.key("patch"),
                             format_func=lambda i: patch_labels[i])
    right.plotly_chart(token_bars(matrix[:, patch], result.tokens,
                                  title=f"Attention each token paid to {patch_labels[patch]}"), key="patch_tokens")
    return patch
