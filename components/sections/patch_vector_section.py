"""Patching, section 2: click a patch, see its pixels become a vector, and which patches have a similar one."""
from __future__ import annotations

import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.figures.pictures import enlarged_png
from components.figures.token_bars import token_bars
from components.widgets.clickable_grid import clickable_patch_grid
from core.classroom.page_table import PageSpec
from core.concepts.patching import PatchView


def patch_vector_section(view: PatchView, page: PageSpec) -> int:
    """Draws the section; returns the clicked patch (its index in reading order)."""
    rows, cols = view.grid
    height, width = view.patches.image.shape[:2]
    st.header("2. Patch → vector")
    if st.session_state.get(page.key("patch"), view.n_patches) >= view.n_patches:  # none yet, or another grid's
        st.session_state[page.key("patch")] = view.n_patches // 2 + cols // 2
    left, middle, right = st.columns(3)
    with left:
        st.markdown("Click a patch:")
        clickable_patch_grid(view.patches, state_key=page.key("patch"), click_key="patching_click")
    patch = st.session_state[page.key("patch")]
    r, c = divmod(patch, cols)
    size = view.patches.patch_size
    middle.image(enlarged_png(view.patches.pixels(patch), 160), output_format="PNG",
                 caption=f"p({r},{c}): {size} x {size} x 3 = {size ** 2 * 3} numbers")
    width_d = view.patch_vectors.shape[1]  # d: the width of a patch vector
    middle.plotly_chart(token_bars(view.patch_vectors[patch], [str(i) for i in range(width_d)],
                                   title=f"… projected to {width_d} numbers", value_label="value"),
                        key="patch_vector")
    right.plotly_chart(patch_overlay(view.patches, view.similar_patches(patch),
                                     title=f"Patches whose vector resembles p({r},{c})", value_label="cosine"),
                       key="similar_patches")
    st.image(enlarged_png(view.pca_rgb(), width, height), width=260, output_format="PNG",
             caption="All patch vectors, their top 3 principal components shown as red, green, blue: similar colour, "
                     "similar vector.")
    return patch
