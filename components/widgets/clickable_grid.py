"""The model's image with its patch grid, as a picture you click: a click picks the patch under it.

Plotly heatmaps do not report clicks to Streamlit (streamlit issue 8760), so this uses streamlit-image-coordinates,
which returns the click position on the image.
"""
from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw
from streamlit_image_coordinates import streamlit_image_coordinates

from components.figures.value_cache import value_cached
from core.attention.patch_grid import PatchGrid

SHOWN_PX = 320


def gridded_picture(image: np.ndarray, grid: tuple[int, int]) -> Image.Image:
    """The image at SHOWN_PX wide (nearest-neighbour, so patches stay crisp) with white patch-grid lines."""
    rows, cols = grid
    picture = Image.fromarray(image).resize((SHOWN_PX, SHOWN_PX * image.shape[0] // image.shape[1]),
                                            Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(picture)
    w, h = picture.size
    for c in range(1, cols):
        draw.line([(c * w / cols, 0), (c * w / cols, h)], fill=(255, 255, 255), width=1)
    for r in range(1, rows):
        draw.line([(0, r * h / rows), (w, r * h / rows)], fill=(255, 255, 255), width=1)
    return picture


def patch_box(picture: Image.Image, grid: tuple[int, int], patch: int, inset: float = 0) -> list[float]:
    """[x0, y0, x1, y1] of one patch (row-major index) on a gridded picture, shrunk by `inset` pixels."""
    rows, cols = grid
    w, h = picture.size
    r, c = divmod(patch, cols)
    return [c * w / cols + inset, r * h / rows + inset, (c + 1) * w / cols - inset, (r + 1) * h / rows - inset]


def _grid_picture(image: np.ndarray, grid: tuple[int, int], selected: int) -> Image.Image:
    picture = gridded_picture(image, grid)
    ImageDraw.Draw(picture).rectangle(patch_box(picture, grid, selected), outline=(0, 212, 255), width=3)
    return picture


class _EncodedPNG:
    """A picture encoded once: streamlit_image_coordinates calls `source.save(buffer, format="PNG", ...)` on
    anything that has a save method, so reruns (every layer or head change) reuse the bytes instead of re-encoding."""

    def __init__(self, picture: Image.Image):
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        self.data = buffer.getvalue()

    def save(self, buffer, **_) -> None:
        buffer.write(self.data)


@value_cached(maxsize=32)
def _encoded(image: np.ndarray, grid: tuple[int, int], selected: int) -> _EncodedPNG:
    return _EncodedPNG(_grid_picture(image, grid, selected))


def clickable_patch_grid(patches: PatchGrid, state_key: str, click_key: str) -> None:
    """Draw the grid with the patch in st.session_state[state_key] outlined; a click stores the clicked patch
    there (the same key a selectbox can use, so both controls show one choice)."""
    def on_click() -> None:
        click = st.session_state.get(click_key)
        if click:
            st.session_state[state_key] = patches.index_at(click["x"], click["y"], click["width"], click["height"])

    picture = _encoded(patches.image, patches.shape, int(st.session_state.get(state_key, 0)))
    streamlit_image_coordinates(picture, key=click_key, on_click=on_click, cursor="crosshair")
