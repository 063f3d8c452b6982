"""Attention maps with their labels: what a figure, an export or the browser explorer needs to show them.

The array is the app's one layout, (layers, heads, queries, keys). `keys` says what the keys are: the patches of a
PatchGrid (row-major, no CLS: results drop it with their model's ImageTokens before building maps), or a strip of
labelled keys (audio frames, a token sequence). In early fusion the image also reads the text: there the grid's
patches are the queries (`grid_side="queries"`) and the keys are the labelled text tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.attention import select
from core.attention.patch_grid import PatchGrid


@dataclass(frozen=True)
class AttentionMaps:
    """weights: (layers, heads, Q, K) float32; queries: Q labels. patches: the grid when the K keys are its patches
    (K == patches.n_patches), else None and key_labels names the K keys. grid_side "queries": the Q queries are the
    grid's patches in reading order instead (image -> text: each patch's weights over labelled text keys)."""

    weights: np.ndarray
    queries: list[str]
    patches: PatchGrid | None = None
    key_labels: list[str] | None = None
    grid_side: str = "keys"  # which axis the patches are: "keys" (a token reads the image) or "queries"

    def __post_init__(self):
        if self.weights.ndim != 4:
            raise ValueError(f"expected (layers, heads, queries, keys), got shape {self.weights.shape}")
        n_queries, n_keys = self.weights.shape[2:]
        if len(self.queries) != n_queries:
            raise ValueError(f"{len(self.queries)} query labels for {n_queries} queries")
        if self.grid_side not in ("keys", "queries"):
            raise ValueError(f'grid_side is "keys" or "queries", not {self.grid_side!r}')
        if self.grid_side == "queries" and self.patches is None:
            raise ValueError('grid_side="queries" needs the patch grid')
        on_grid = n_keys if self.grid_side == "keys" else n_queries
        if self.patches is not None and self.patches.n_patches != on_grid:
            raise ValueError(f"{on_grid} {self.grid_side} are not the {self.patches.rows}x{self.patches.cols} "
                             "grid's patches")
        if self.key_labels is not None and len(self.key_labels) != n_keys:
            raise ValueError(f"{len(self.key_labels)} key labels for {n_keys} keys")

    @property
    def n_layers(self) -> int:
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        return self.weights.shape[1]

    @property
    def keys(self) -> list[str]:
        """The key labels: the grid's p(row,col) names, or the given labels, or k0, k1, ..."""
        if self.patches is not None and self.grid_side == "keys":
            return self.patches.labels()
        return self.key_labels or [f"k{i}" for i in range(self.weights.shape[3])]

    def matrix(self, layer: int | str, head: int | str) -> np.ndarray:
        """(Q, K) for a layer index or the layer mean, a head index or the head mean/max."""
        return select(self.weights, layer, head)

    def on_grid(self, query: int, layer: int | str, head: int | str) -> np.ndarray:
        """(rows, cols): one query's weights laid on the patch grid."""
        if self.patches is None or self.grid_side != "keys":
            raise ValueError("these maps' keys are not image patches")
        return self.patches.on_grid(self.matrix(layer, head)[query])

    def key_on_grid(self, key: int, layer: int | str, head: int | str) -> np.ndarray:
        """(rows, cols): how much each patch (a query, grid_side "queries") put on one key."""
        if self.patches is None or self.grid_side != "queries":
            raise ValueError("these maps' queries are not image patches")
        return self.patches.on_grid(self.matrix(layer, head)[:, key])
