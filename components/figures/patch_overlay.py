"""The image as the model saw it, its patch grid, and optionally one value per patch as a heatmap on top."""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from components.figures.frozen_figure import FrozenFigure, cached_figure, plain_figure
from components.figures.value_cache import value_cached
from core.attention.patch_grid import PatchGrid

COLORSCALE = "Viridis"  # perceptually uniform, dark-to-bright; reads on light and dark themes alike
COLORSCALE_STOPS = [list(stop) for stop in go.Heatmap(colorscale=COLORSCALE).colorscale]  # as validation writes it
JPEG_QUALITY = 90


def _encoded(picture: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=kind, **options)
    return buffer.getvalue()


@value_cached(maxsize=16)  # a page draws the same image under several overlays: encode it once
def _data_uri(image: np.ndarray) -> str:
    """The image as a data URI, a few KB instead of half a million JSON numbers: PNG for drawn scenes (flat colours,
    crisp edges: a 224 px shapes scene is 5 KB), JPEG for photos, where PNG is 5-6x larger (the 224 px cat: 89 KB
    against 15 KB) and a page sends the image once per overlay."""
    picture = Image.fromarray(image)
    png, jpeg = _encoded(picture, "PNG"), _encoded(picture, "JPEG", quality=JPEG_QUALITY)
    kind, data = ("jpeg", jpeg) if len(png) > 2 * len(jpeg) else ("png", png)
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


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


@cached_figure  # a layer or head change reruns the page: the figures it does not change are reused
def patch_overlay(
    patches: PatchGrid,
    values: np.ndarray | None = None,
    title: str = "",
    value_label: str = "attention",
    opacity: float = 0.55,
    box: tuple[float, float, float, float] | None = None,
) -> FrozenFigure:
    """The model's image and its patch grid; values: (rows, cols) or None (grid only); box: (x0, y0, x1, y1) in
    image pixels, drawn as an outline."""
    rows, cols = grid = patches.shape
    patch_size = patches.patch_size
    traces = [dict(type="image", source=_data_uri(patches.image), hoverinfo="skip")]
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
    box_outline = {} if box is None else {"shapes": [dict(type="rect", x0=box[0], y0=box[1], x1=box[2], y1=box[3],
                                                          xref="x", yref="y", line=dict(color="#00e5ff", width=3))]}
    return plain_figure(traces, dict(
        title=dict(text=title), margin=dict(l=0, r=0, t=40 if title else 10, b=0), height=420, **box_outline,
        xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x")))
