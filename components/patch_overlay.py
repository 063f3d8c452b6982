"""The image as the model saw it, its patch grid, and optionally one value per patch as a heatmap on top."""
from __future__ import annotations

import base64
import io
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from PIL import Image

COLORSCALE = "Viridis"  # perceptually uniform, dark-to-bright; reads on light and dark themes alike
COLORSCALE_STOPS = [list(stop) for stop in go.Heatmap(colorscale=COLORSCALE).colorscale]  # as validation writes it


def _data_uri(image: np.ndarray) -> str:
    """PNG data URI: a 384 px image as a few dozen KB instead of half a million JSON numbers."""
    return _png_uri(image.tobytes(), image.shape)


@lru_cache(maxsize=16)  # a page draws the same image under several overlays, on every rerun: encode it once
def _png_uri(pixels: bytes, shape: tuple[int, ...]) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.frombuffer(pixels, dtype=np.uint8).reshape(shape)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def plain_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain dicts, skipping plotly.py's property-by-property validation (`_validate=False`): on a
    rerun that only changes a layer or head, building the figures was most of the page's time. The JSON is the same
    (tests/test_figures.py rebuilds each one with validation and compares), so write titles as dict(text=...)."""
    return go.Figure(data=data, layout=layout, _validate=False)


def _grid_lines(patch_size: int, grid: tuple[int, int]) -> dict:
    """All grid lines as one trace, segments split by None: one object instead of rows + cols + 2 layout shapes
    (plotly re-validates every shape on each add_shape, so a 24 x 24 grid took most of a page's rerun)."""
    rows, cols = grid
    height, width = rows * patch_size - 0.5, cols * patch_size - 0.5
    x, y = [], []
    for c in range(cols + 1):
        x += [c * patch_size - 0.5, c * patch_size - 0.5, None]
        y += [-0.5, height, None]
    for r in range(rows + 1):
        x += [-0.5, width, None]
        y += [r * patch_size - 0.5, r * patch_size - 0.5, None]
    return dict(type="scatter", x=x, y=y, mode="lines", line=dict(color="rgba(255,255,255,0.45)", width=1),
                hoverinfo="skip", showlegend=False)


def patch_overlay(
    image: np.ndarray,
    patch_size: int,
    grid: tuple[int, int],
    values: np.ndarray | None = None,
    title: str = "",
    value_label: str = "attention",
    opacity: float = 0.55,
) -> go.Figure:
    """image: (H, W, 3) uint8; values: (rows, cols) or None (grid only)."""
    rows, cols = grid
    traces = [dict(type="image", source=_data_uri(image), hoverinfo="skip")]
    if values is not None:
        if values.shape != (rows, cols):
            raise ValueError(f"values {values.shape} do not match the {rows}x{cols} patch grid")
        traces.append(dict(
            type="heatmap", z=values, x0=patch_size / 2, dx=patch_size, y0=patch_size / 2, dy=patch_size,
            colorscale=COLORSCALE_STOPS, opacity=opacity, colorbar=dict(title=dict(text=value_label), thickness=12),
            customdata=np.stack(np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij"), axis=-1),
            hovertemplate="patch (row %{customdata[0]}, col %{customdata[1]})<br>" + value_label +
                          " %{z:.3f}<extra></extra>",
        ))
    traces.append(_grid_lines(patch_size, grid))
    return plain_figure(traces, dict(
        title=dict(text=title), margin=dict(l=0, r=0, t=40 if title else 10, b=0), height=420,
        xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x")))
