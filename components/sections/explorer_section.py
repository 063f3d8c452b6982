"""The linked attention explorer for a page's result: every layer and head in the browser, hover to see, click to
pin (components/widgets/attention_explorer.py)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from components.widgets.attention_explorer import attention_explorer
from core.attention import HEAD_MEAN
from core.concepts.cross_attention import CrossAttentionResult, naming_token


def explorer_for(maps: np.ndarray, labels: list[str], grid: tuple[int, int] | None, image: np.ndarray | None,
                 key: str, selected: dict | None = None, title: str = "",
                 on_pin: Callable[[dict], None] | None = None) -> dict | None:
    """Any page's (layers, heads, queries, keys) maps: patches on a grid over an image, or keys on a strip (grid
    None, e.g. audio frames). Returns the pinned {layer, head, query, key} or None."""
    return attention_explorer(maps, labels, grid, image, key=key, selected=selected, title=title, on_pin=on_pin)


def explorer_section(result: CrossAttentionResult, key: str, selected: dict | None = None,
                     on_pin: Callable[[dict], None] | None = None) -> dict | None:
    """The question tokens' cross-attention over the image patches (CLS column dropped), over the model's image.
    Opens on the last layer, mean over heads, and the question's naming word unless `selected` says otherwise."""
    maps = result.token_patch_matrix  # (L, H, T, N)
    start = {"layer": maps.shape[0] - 1, "head": HEAD_MEAN, "query": naming_token(result.tokens)}
    return explorer_for(maps, result.tokens, result.grid, result.model_image, key=key,
                        selected={**start, **{k: v for k, v in (selected or {}).items() if v is not None}},
                        title="Explore every layer and head", on_pin=on_pin)
