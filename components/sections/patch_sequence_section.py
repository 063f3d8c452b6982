"""Patching, section 1: what the model receives, the image cut into a grid and read in order after a CLS token."""
from __future__ import annotations

import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.figures.pictures import enlarged_png
from core.concepts.patching import PatchView


def patch_sequence_section(view: PatchView) -> None:
    rows, cols = view.grid
    height, width = view.patches.image.shape[:2]
    st.header("1. What the model receives")
    st.metric("Patches N = (H/P) x (W/P)", f"{view.n_patches} = {rows} x {cols}",
              help=f"{height} x {width} px image, P = {view.patches.patch_size} px; the sequence is CLS + "
                   f"{view.n_patches} patches = {view.n_patches + 1} tokens")
    left, right = st.columns(2)
    left.plotly_chart(patch_overlay(view.patches, title="What the model sees"), key="patch_grid")
    with right:
        st.markdown(f"The image after resizing, cropping and normalising to {height} x {width} px. In reading order, "
                    "the sequence starts:")
        first = [enlarged_png(view.patches.pixels(i), 48) for i in range(min(12, view.n_patches))]
        st.image(first, caption=[f"{i + 1}: {label}" for i, label in enumerate(view.patches.labels()[:len(first)])],
                 width=48,
                 output_format="PNG")
        st.caption("… preceded by the CLS token, which has no pixels: it only gathers from the patches.")
