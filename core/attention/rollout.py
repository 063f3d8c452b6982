"""Attention rollout and mean attention distance: two summaries of what a ViT's patches attend to.

Rollout (Abnar & Zuidema, 2020): attention mixes tokens layer after layer, and the residual connection keeps half of
each token. So per layer take A = 0.5 * fuse_heads(attention) + 0.5 * I, renormalise the rows, and multiply through
the layers: R = A_L ... A_2 A_1. Row 0 of R says how much each input patch flows into the final CLS token.

Mean attention distance: for each head, the attention-weighted distance in pixels between a query patch and the
patches it attends to, averaged over query patches. Early layers are typically local, late layers global.
"""
from __future__ import annotations

import numpy as np

from core.attention import Reduce
from core.attention.patch_grid import PatchGrid

HEAD_FUSIONS = (Reduce.MEAN, Reduce.MAX, Reduce.MIN)


def fuse_heads(attention: np.ndarray, how: str) -> np.ndarray:
    """(heads, S, S) -> (S, S)."""
    if how not in HEAD_FUSIONS:
        raise ValueError(f"head fusion {how!r}: choose one of {HEAD_FUSIONS}")
    return getattr(attention, how)(axis=0)


def rollout(attentions: np.ndarray, head_fusion: str = Reduce.MEAN, discard_ratio: float = 0.0) -> np.ndarray:
    """(layers, heads, S, S) -> (S, S): how much each input token flows into each output token.

    discard_ratio: per layer, zero this fraction of the smallest fused weights (never those to or from token 0, the
    CLS token), which sharpens the picture by dropping the noise floor.
    """
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError("discard_ratio must be in [0, 1)")
    size = attentions.shape[-1]
    result = np.eye(size)
    for layer in attentions:  # (heads, S, S)
        fused = fuse_heads(layer, head_fusion).astype(np.float64)  # (S, S)
        if discard_ratio > 0:
            inner = fused[1:, 1:].ravel()  # weights between patches: the only ones we may drop
            k = int(inner.size * discard_ratio)
            if k:
                cut = np.partition(inner, k - 1)[k - 1]
                patch_block = fused[1:, 1:]
                patch_block[patch_block <= cut] = 0.0
        mixed = 0.5 * fused + 0.5 * np.eye(size)  # the residual stream keeps half of each token
        mixed /= mixed.sum(axis=-1, keepdims=True)
        result = mixed @ result
    return result


def mean_attention_distance(patch_attention: np.ndarray, patches: PatchGrid) -> np.ndarray:
    """(layers, heads, N, N) patch-to-patch weights (the caller drops CLS and any other prefix token with its
    model's ImageTokens) -> (layers, heads): mean distance in pixels from a query patch to what it attends to,
    weights renormalised over the patches."""
    weights = patch_attention / patch_attention.sum(axis=-1, keepdims=True)
    return (weights * patches.distances()).sum(axis=-1).mean(axis=-1)
