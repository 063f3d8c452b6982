"""Small pictures a page shows on every rerun (a patch blown up, the PCA colours), encoded once per content."""
from __future__ import annotations

import numpy as np
from PIL import Image

from components.figures.value_cache import value_cached
from core.inputs.images import fit_width, to_png


@value_cached(maxsize=256)  # the first 12 patches + the chosen one + PCA colours, for a few images
def enlarged_png(pixels: np.ndarray, width: int, height: int | None = None) -> bytes:
    """(h, w, 3) uint8 pixels scaled to width x height (square when height is None) by nearest neighbour, so each
    pixel stays a crisp block, as PNG bytes: st.image sends bytes of the right size and format as they are."""
    return to_png(Image.fromarray(pixels).resize((width, height or width), Image.Resampling.NEAREST))


@value_cached(maxsize=64)
def picture_png(pixels: np.ndarray, width: int) -> bytes:
    """(h, w, 3) uint8 pixels as PNG bytes at most `width` px wide (bilinear, as st.image would shrink it)."""
    return to_png(fit_width(Image.fromarray(pixels), width))
