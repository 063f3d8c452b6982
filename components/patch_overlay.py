"""The image as the model saw it, its patch grid, and optionally one value per patch as a heatmap on top."""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

COLORSCALE = "Viridis"  # perceptually uniform, dark-to-bright; reads on light and dark themes alike


def _data_uri(image: np.ndarray) -> str:
    """PNG data URI: a 384 px image as a few dozen KB instead of half a million JSON numbers."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


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
    fig = go.Figure(go.Image(source=_data_uri(image), hoverinfo="skip"))
    if values is not None:
        if values.shape != (rows, cols):
            raise ValueError(f"values {values.shape} do not match the {rows}x{cols} patch grid")
        fig.add_trace(go.Heatmap(
            z=values, x0=patch_size / 2, dx=patch_size, y0=patch_size / 2, dy=patch_size,
            colorscale=COLORSCALE, opacity=opacity, colorbar=dict(title=value_label, thickness=12),
            customdata=np.stack(np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij"), axis=-1),
            hovertemplate="patch (row %{customdata[0]}, col %{customdata[1]})<br>" + value_label +
                          " %{z:.3f}<extra></extra>",
        ))
    line = dict(color="rgba(255,255,255,0.45)", width=1)
    for c in range(cols + 1):
        fig.add_shape(type="line", x0=c * patch_size - 0.5, x1=c * patch_size - 0.5, y0=-0.5,
                      y1=rows * patch_size - 0.5, line=line)
    for r in range(rows + 1):
        fig.add_shape(type="line", y0=r * patch_size - 0.5, y1=r * patch_size - 0.5, x0=-0.5,
                      x1=cols * patch_size - 0.5, line=line)
    fig.update_layout(title=title, margin=dict(l=0, r=0, t=40 if title else 10, b=0), height=420)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig
