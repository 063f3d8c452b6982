"""The patch grid: the image a vision tower saw, cut into rows x cols square patches of P pixels.

One object instead of (model_image, grid, patch_size) travelling side by side: every result that has image patches
carries a PatchGrid, and everything that maps between a patch index, its pixels, a click, a box or an object mask
asks it. Patch indices are row-major (reading order), as every model here numbers its patch tokens (ViLT's shuffled
order is mapped back with `on_grid(..., positions)`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in model-image pixels


@dataclass(frozen=True)
class PatchGrid:
    """image: (rows * P, cols * P, 3) uint8, the pixels the model saw (normalisation undone); patch_size: P."""

    image: np.ndarray
    patch_size: int
    rows: int
    cols: int

    def __post_init__(self):
        expected = (self.rows * self.patch_size, self.cols * self.patch_size)
        if self.image.shape[:2] != expected:
            raise ValueError(f"a {self.image.shape[1]}x{self.image.shape[0]} image is not {self.rows}x{self.cols} "
                             f"patches of {self.patch_size} px")

    @classmethod
    def of(cls, image: np.ndarray, patch_size: int) -> PatchGrid:
        """The grid of an image whose sides are whole numbers of patches."""
        return cls(image, patch_size, image.shape[0] // patch_size, image.shape[1] // patch_size)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    @property
    def n_patches(self) -> int:
        return self.rows * self.cols

    def labels(self) -> list[str]:
        """p(row,col) for every patch in reading order, as on the figures and in exports."""
        return [f"p({r},{c})" for r in range(self.rows) for c in range(self.cols)]

    def box(self, index: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) pixel box of one patch."""
        r, c = divmod(int(index), self.cols)
        p = self.patch_size
        return c * p, r * p, (c + 1) * p, (r + 1) * p

    def pixels(self, index: int) -> np.ndarray:
        """(P, P, 3) uint8: the raw pixels of one patch."""
        x0, y0, x1, y1 = self.box(index)
        return self.image[y0:y1, x0:x1]

    def index_at(self, x: float, y: float, width: float, height: float) -> int:
        """The patch under a click at (x, y) on the image shown width x height pixels (clamped to the grid)."""
        r = min(self.rows - 1, max(0, int(y * self.rows / height)))
        c = min(self.cols - 1, max(0, int(x * self.cols / width)))
        return r * self.cols + c

    def on_grid(self, row: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """(N,) one query's weights over the patch keys -> (rows, cols). positions: (N, 2) the (row, col) of each
        patch token when the model's order is not row-major (ViLT); a position listed twice adds."""
        if positions is None:
            if row.shape[0] != self.n_patches:
                raise ValueError(f"{row.shape[0]} patch weights do not fill a {self.rows}x{self.cols} grid")
            return row.reshape(self.shape)
        out = np.zeros(self.shape, dtype=row.dtype)
        np.add.at(out, (positions[:, 0], positions[:, 1]), row)
        return out

    def coverage(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) bool object mask, any size that splits into the grid (a shapes scene's 64 px masks fit every
        model's grid) -> (rows, cols): the fraction of each patch it covers."""
        h, w = mask.shape
        if h % self.rows or w % self.cols:
            raise ValueError(f"a {h}x{w} mask does not split into a {self.rows}x{self.cols} grid")
        return mask.reshape(self.rows, h // self.rows, self.cols, w // self.cols).mean(axis=(1, 3))

    def inside(self, box: Box) -> np.ndarray:
        """(N,) the fraction of each patch's area inside a pixel box: a patch the box cuts counts by its part."""
        p = self.patch_size
        x0, y0, x1, y1 = box
        left, top = np.arange(self.cols) * p, np.arange(self.rows) * p
        overlap_x = np.clip(np.minimum(left + p, x1) - np.maximum(left, x0), 0, p) / p
        overlap_y = np.clip(np.minimum(top + p, y1) - np.maximum(top, y0), 0, p) / p
        return (overlap_y[:, None] * overlap_x[None, :]).ravel()

    def distances(self) -> np.ndarray:
        """(N, N) the distance in pixels between every two patch centres."""
        r, c = np.divmod(np.arange(self.n_patches), self.cols)
        return np.hypot(r[:, None] - r[None, :], c[:, None] - c[None, :]) * self.patch_size

    def hidden(self, patches: list[int], grey: int = 128) -> np.ndarray:
        """A copy of the image with the given patches painted mid-grey (the processors' normalisation maps it ~0)."""
        out = self.image.copy()
        for index in patches:
            x0, y0, x1, y1 = self.box(index)
            out[y0:y1, x0:x1] = grey
        return out
