"""Patching, section 3: each position embedding's similarity to all the others, tiled on the grid."""
from __future__ import annotations

import streamlit as st

from components.figures.attention_matrix import attention_matrix
from core.concepts.patching import PatchView


def positions_section(view: PatchView) -> None:
    rows, cols = view.grid
    st.header("3. Positions")
    st.plotly_chart(attention_matrix(view.position_similarity(), [f"r{i // rows}" for i in range(rows * rows)],
                                     [f"c{i // cols}" for i in range(cols * cols)], x_title="", y_title="",
                                     value_label="cosine", title="Each position's similarity to all others (tile "
                                     "(r, c) is position (r, c))", height=520),
                    key="position_similarity")
