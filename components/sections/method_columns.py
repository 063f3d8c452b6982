"""The explanation methods side by side, one figure per method with its one-line claim under it: patch maps over
the image (captions, early fusion) or curves over time (listening). Each figure keeps its own scale: the methods'
units differ, so compare where they point, not how bright or high."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.figures.speech import attention_over_time
from core.analysis.relevancy import METHOD_CLAIMS, METHOD_TITLES
from core.attention.patch_grid import PatchGrid

ZERO_NOTE = "All zero here: nothing in this map reaches the target through this row."


def method_overlays(patches: PatchGrid, rows: dict[str, np.ndarray], key: str,
                    claims: dict[str, str] = METHOD_CLAIMS, notes: dict[str, str] | None = None) -> None:
    """rows: method -> (N,) one score per patch, row-major over `patches`; one overlay per method, in columns."""
    for column, (method, values) in zip(st.columns(len(rows)), rows.items()):
        column.plotly_chart(patch_overlay(patches, patches.on_grid(values), title=METHOD_TITLES[method],
                                          value_label="relevance"), key=f"{key}_{method}")
        column.caption(claims[method])
        if not np.any(values):
            column.caption((notes or {}).get(method, ZERO_NOTE))


def method_curves(rows: dict[str, np.ndarray], frame_seconds: float, token: str, key: str,
                  span: tuple[float, float] | None = None, claims: dict[str, str] = METHOD_CLAIMS) -> None:
    """rows: method -> (frames,) one score per audio frame; one curve per method, two per line, the word's
    predicted span (from the timing heads) outlined on each."""
    items = list(rows.items())
    for start in range(0, len(items), 2):
        for column, (method, values) in zip(st.columns(2), items[start:start + 2]):
            figure = attention_over_time(values, frame_seconds, predicted_span=span, token=token, height=220)
            figure.update_layout(title=dict(text=METHOD_TITLES[method], x=0.02, y=0.98), margin=dict(t=40))
            figure.update_yaxes(title_text="relevance")
            column.plotly_chart(figure, key=f"{key}_{method}")
            column.caption(claims[method])
            if not np.any(values):
                column.caption(ZERO_NOTE)
