"""Download buttons for what a page shows: the matrix or embeddings (CSV, NPZ, with their labels) and the
figure (PNG).

PNG: Plotly's own toolbar has a camera button on every chart (hover the chart; `chart_config` names its file).
When kaleido and a Chrome/Chromium are installed, a PNG button renders the figure on the server too, only when
clicked (about 2 s: kaleido starts a headless browser).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from functools import lru_cache
from typing import Callable

import plotly.graph_objects as go
import streamlit as st

from core.classroom import export

CSV, NPZ, PNG = "text/csv", "application/octet-stream", "image/png"


def chart_config(stem: str) -> dict:
    """st.plotly_chart(config=...): the toolbar's camera button saves `stem`.png at twice the size."""
    return {"toImageButtonOptions": {"format": "png", "filename": stem, "scale": 2}, "displaylogo": False}


@lru_cache(maxsize=1)
def png_available() -> bool:
    """kaleido is installed and can find a browser to render with."""
    if importlib.util.find_spec("kaleido") is None:
        return False
    return bool(os.environ.get("BROWSER_PATH") or any(
        shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "chrome")))


def figure_png(figure: go.Figure, width: int = 900) -> bytes:
    """The figure as PNG on a white background (for notes and slides), rendered by kaleido."""
    figure = go.Figure(figure).update_layout(template="plotly_white", width=width)
    return figure.to_image(format="png", scale=2)


def _buttons(key: str, stem: str, files: list[tuple[str, Callable[[], bytes], str, str]],
             figure: go.Figure | None) -> None:
    """The files are built only when clicked (deferred downloads), so a rerun costs nothing."""
    with st.container(horizontal=True, key=f"{key}_export"):
        for label, data, extension, mime in files:
            st.download_button(label, data, file_name=f"{stem}.{extension}", mime=mime, key=f"{key}_{extension}",
                               icon=":material/download:", on_click="ignore", type="tertiary")
        if figure is not None and png_available():
            st.download_button("PNG", lambda: figure_png(figure), file_name=f"{stem}.png", mime=PNG,
                               key=f"{key}_png", icon=":material/image:", on_click="ignore", type="tertiary",
                               help="Rendered on the server when you click (a couple of seconds).")


def export_matrix(matrix, row_labels: list[str], col_labels: list[str], stem: str, key: str,
                  figure: go.Figure | None = None, corner: str = "", **notes: str) -> None:
    """Buttons for a (rows, cols) matrix with its labels: CSV, NPZ, and the figure as PNG where possible.
    notes (layer="2", head="mean", ...) go into the NPZ."""
    export.check_labels(matrix, row_labels, col_labels)  # a mismatch fails here, on the page, not at the click
    _buttons(key, stem, [("CSV", lambda: export.matrix_csv(matrix, row_labels, col_labels, corner), "csv", CSV),
                         ("NPZ", lambda: export.matrix_npz(matrix, row_labels, col_labels, **notes), "npz", NPZ)],
             figure)


def export_embeddings(image_embeds, image_labels: list[str], text_embeds, text_labels: list[str], stem: str,
                      key: str, figure: go.Figure | None = None, **notes: str) -> None:
    """Buttons for CLIP-style embeddings: one CSV (modality, label, dimensions) and one NPZ."""
    _buttons(key, stem, [
        ("CSV", lambda: export.embeddings_csv(image_embeds, image_labels, text_embeds, text_labels), "csv", CSV),
        ("NPZ", lambda: export.embeddings_npz(image_embeds, image_labels, text_embeds, text_labels, **notes), "npz",
         NPZ),
    ], figure)
