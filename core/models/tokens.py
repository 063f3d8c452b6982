"""Where the image patches sit among a vision tower's tokens: the index bookkeeping every family states once.

TransformerLens calls index bookkeeping "the biggest footgun"; here a family adapter says it in one constant, and
code that needs "the patches only" or "the CLS token" asks it instead of writing `[0, 1:]` or `1 + patch`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageTokens:
    """cls_index: the CLS token's position among the image tokens, None for a tower without one.
    n_prefix: tokens before the first patch (CLS, and register tokens in a DINOv2 with registers); the patches
    follow it in the model's own order (row-major for CLIP and BLIP; ViLT's is shuffled, see core/models/vilt.py)."""

    cls_index: int | None
    n_prefix: int

    @property
    def has_cls(self) -> bool:
        return self.cls_index is not None

    def patch_token(self, patch: int) -> int:
        """The token position of patch `patch` (in the model's order) among the image tokens."""
        return self.n_prefix + int(patch)

    def patches(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        """The patch tokens only, along `axis` (prefix tokens dropped): a view, never a copy."""
        index = [slice(None)] * x.ndim
        index[axis] = slice(self.n_prefix, None)
        return x[tuple(index)]


CLS_THEN_PATCHES = ImageTokens(cls_index=0, n_prefix=1)  # CLIP, BLIP, ViLT's image part, DINOv2 without registers


def vision_patch_size(model) -> int:
    """P in pixels, for the CLIP and BLIP families (their vision config carries it)."""
    return model.config.vision_config.patch_size


def square_patch_grid(model, pixel_values) -> tuple[int, int]:
    """(rows, cols) of P x P patches for a (B, 3, H, W) batch (CLIP B/32 at 224 px: 7 x 7; BLIP base at 384 px:
    24 x 24): the processor always gives the native size."""
    p = vision_patch_size(model)
    return pixel_values.shape[2] // p, pixel_values.shape[3] // p
