"""One attention layout for the whole app: a (layers, heads, queries, keys) float32 array.

Every model here returns attentions as a tuple with one (batch, heads, queries, keys) tensor per layer, or None
when it was loaded with SDPA attention. `stack_attentions` turns the tuple into the array and fails loudly when
the weights are missing; `select` picks the (queries, keys) matrix a page shows.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Sequence

import numpy as np
import torch


class Reduce(StrEnum):
    """How a view folds a stack of heads (or layers, or rollout's heads) into one map. A str: its value is the word
    in a shared link, an export's notes and a widget's state."""

    MEAN = "mean"
    MAX = "max"
    MIN = "min"  # rollout's head fusion only


HEAD_MEAN, HEAD_MAX, LAYER_MEAN = Reduce.MEAN, Reduce.MAX, Reduce.MEAN


class AttentionsMissing(RuntimeError):
    """The model returned no attention weights."""


def stack_attentions(attentions: Sequence[torch.Tensor] | None, batch_index: int = 0,
                     release: bool = False) -> np.ndarray:
    """Per-layer tuple of (batch, heads, queries, keys) -> (layers, heads, queries, keys) for one batch item,
    float32, filled layer by layer (no stacked intermediate). `release`: `attentions` is a list the caller no
    longer needs; each layer is dropped from it once copied, so the model's tensors and the array do not both stay
    whole in memory (DINOv2 at 448 px: 288 MB each)."""
    if not attentions or any(a is None for a in attentions):
        raise AttentionsMissing(
            "The model returned no attention weights. Load it with attn_implementation='eager' and call it "
            "with output_attentions=True (SDPA and flash attention never materialise the weights)."
        )
    first = attentions[0][batch_index]  # (H, Q, K)
    stacked = np.empty((len(attentions), *first.shape), dtype=np.float32)  # (L, H, Q, K)
    for i in range(len(attentions)):
        stacked[i] = attentions[i][batch_index].float().cpu().numpy()
        if release:
            attentions[i] = None
    return stacked


def select(weights: np.ndarray, layer: int | str, head: int | str) -> np.ndarray:
    """(L, H, Q, K) -> (Q, K): a layer index or "mean"; a head index, "mean" or "max"."""
    if weights.ndim != 4:
        raise ValueError(f"expected (layers, heads, queries, keys), got shape {weights.shape}")
    per_layer = weights.mean(axis=0) if layer == LAYER_MEAN else weights[int(layer)]  # (H, Q, K)
    if head == HEAD_MEAN:
        return per_layer.mean(axis=0)
    if head == HEAD_MAX:
        return per_layer.max(axis=0)
    return per_layer[int(head)]
