"""Patching, section 3: each position embedding's similarity to all the others, tiled on the grid."""
from __future__ import annotations

import streamlit as st

from components.figures.attention_matrix import attention_matrix
from core.concepts.patching import PatchView


MAX_TILES = 16  # tiles per side: 16 x 16 tiles of 16 x 16 cells is 65k cells; 32 x 32 of 32 x 32 was a million (7 MB)


def positions_section(view: PatchView) -> None:
    rows, cols = view.grid
    block = next(b for b in range(1, rows + 1) if rows % b == 0 and cols % b == 0 and rows // b <= MAX_TILES
                 or b == rows)
    r, c = rows // block, cols // block
    st.header("3. Positions")
    title = "Each position's similarity to all others (tile (r, c) is position (r, c))"
    if block > 1:
        title = f"Each {block} x {block} block of positions' mean similarity to all others (tile (r, c) is block (r, c))"
    st.plotly_chart(attention_matrix(view.position_similarity(block), [f"r{i // r}" for i in range(r * r)],
                                     [f"c{i // c}" for i in range(c * c)], x_title="", y_title="",
                                     value_label="cosine", title=title, height=520),
                    key="position_similarity")
    if block > 1:
        st.caption(f"{rows} x {cols} positions would be {(rows * cols) ** 2:,} cells: each tile here averages "
                   f"{block} x {block} neighbouring positions, on both sides.")
