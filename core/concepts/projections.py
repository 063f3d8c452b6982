"""Projections of embeddings to 2-D or 3-D: PCA, t-SNE and UMAP behind one function.

PCA is linear and keeps global distances (a rotation plus a drop of the minor directions); t-SNE and UMAP are
non-linear and keep neighbourhoods, so their distances between far-apart clusters mean little. All three see the
same (N, D) points and return one point per item, so the page can switch between them without re-embedding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("PCA", "t-SNE", "UMAP")
MIN_POINTS = 5  # t-SNE and UMAP need a neighbourhood; below this they are meaningless, so PCA stands in


@dataclass
class Projection:
    """coords: (N, dims), one row per input point; method: what actually ran; note: why it differs, if it does."""

    coords: np.ndarray
    method: str
    note: str = ""


def pca(points: np.ndarray, k: int = 2) -> np.ndarray:
    """(N, D) -> (N, k): coordinates along the top-k principal directions (SVD of the centred points)."""
    centred = points - points.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # vt: (min(N, D), D)
    components = vt[:k]
    if components.shape[0] < k:  # fewer points than k: pad with zero directions
        components = np.vstack([components, np.zeros((k - components.shape[0], points.shape[1]))])
    return centred @ components.T


def _tsne(points: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE  # imported on first use: the page loads faster without it

    perplexity = min(30.0, (len(points) - 1) / 3)  # sklearn needs perplexity < N; ~N/3 keeps small sets stable
    # sklearn's "auto" learning rate has a floor of 50, made for thousands of points; on a gallery's 10-50 points
    # it scattered 3-D runs (measured: 12% of points nearest to the wrong cluster); 5 kept every neighbourhood.
    learning_rate = 5.0 if len(points) < 250 else "auto"
    return TSNE(n_components=dims, perplexity=perplexity, init="pca", metric="cosine", learning_rate=learning_rate,
                random_state=seed).fit_transform(points)


def _umap(points: np.ndarray, dims: int, seed: int) -> np.ndarray:
    import umap  # numba compiles it on first use (tens of seconds, once per process)

    reducer = umap.UMAP(n_components=dims, n_neighbors=min(15, len(points) - 1), metric="cosine",
                        init="random",  # the spectral init fails on the tiny, disconnected graphs a gallery gives
                        random_state=seed, n_jobs=1)
    return reducer.fit_transform(points)


def project(points: np.ndarray, method: str = "PCA", dims: int = 2, seed: int = 0) -> Projection:
    """(N, D) -> Projection with (N, dims) coords. Fixed seed: the same points always land in the same place."""
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose one of {METHODS}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    points = np.asarray(points, dtype=np.float64)
    if method != "PCA" and len(points) < MIN_POINTS:
        return Projection(pca(points, dims), "PCA", f"{method} needs at least {MIN_POINTS} points; showing PCA.")
    if method == "PCA":
        return Projection(pca(points, dims), "PCA")
    coords = _tsne(points, dims, seed) if method == "t-SNE" else _umap(points, dims, seed)
    return Projection(np.asarray(coords, dtype=np.float64), method)
