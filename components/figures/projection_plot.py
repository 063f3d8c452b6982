"""Image and caption embeddings projected to 2-D or 3-D: one colour per modality, a line per matched pair, the
images' own thumbnails at their points (2-D), and one chosen item with its nearest neighbours ringed."""
from __future__ import annotations

import base64
import html
import io
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from components.figures.frozen_figure import plain_figure

MODALITY_COLORS = {"image": "#1f77b4", "caption": "#ff7f0e"}  # blue/orange: tell apart on light and dark themes
TRACE_KINDS = ("image", "caption")  # curve numbers 1 and 2 (0 is the pair lines): what a selection maps back to
THUMBNAIL_PX = 48
THUMBNAIL_FRACTION = 0.08  # a thumbnail spans this share of the axis range


@lru_cache(maxsize=128)  # the gallery's thumbnails are drawn on every rerun: make each once
def thumbnail_uri(png: bytes) -> str:
    """A small PNG data URI: a gallery of 13 thumbnails costs ~40 KB of figure JSON, not megabytes."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _safe(text: str) -> str:
    """Captions are user text, and Plotly renders tags (<b>, <a href>) in labels and hovers: show them literally."""
    return html.escape(text, quote=False)


def _pair_lines(image_points: np.ndarray, text_points: np.ndarray, pairs: list[tuple[int, int]]) -> list:
    """One polyline for every pair, separated by None, per coordinate axis."""
    axes = []
    for d in range(image_points.shape[1]):
        coords: list = []
        for i, t in pairs:
            coords += [image_points[i, d], text_points[t, d], None]
        axes.append(coords)
    return axes


def projection_plot(image_points: np.ndarray, image_labels: list[str], text_points: np.ndarray,
                    text_labels: list[str], pairs: list[tuple[int, int]], title: str = "",
                    thumbnails: list[str] | None = None, image_captions: list[str] | None = None,
                    chosen: tuple[str, int] | None = None, neighbours: list[tuple[str, int]] = (),
                    axis_label: str = "PC") -> go.Figure:
    """image_points: (I, 2 or 3); text_points: (T, same); pairs: (image index, caption index), drawn as dotted lines.
    thumbnails: one data URI per image, drawn at its point (2-D only). chosen / neighbours: ("image" or "caption",
    index) to ring in black / grey. Built from plain dicts (plain_figure): a rerun that only moves the chosen point
    must not pay plotly.py's validation of every thumbnail."""
    dims = image_points.shape[1]
    kind = "scatter3d" if dims == 3 else "scatter"
    xyz = ("x", "y", "z")[:dims]
    on_thumbnails = bool(thumbnails) and dims == 2
    image_captions = image_captions or [""] * len(image_labels)

    def coords(points) -> dict:
        return {a: np.asarray(points, dtype=float)[:, d] for d, a in enumerate(xyz)}

    traces = [
        dict(type=kind, **dict(zip(xyz, _pair_lines(image_points, text_points, pairs))), mode="lines",
             line=dict(color="grey", dash="dot", width=1) if dims == 2 else dict(color="grey", width=2),
             name="matched pair", hoverinfo="skip"),
        dict(type=kind, **coords(image_points), mode="markers", name="image",
             marker=dict(size=16, symbol="square", color="rgba(0,0,0,0)",  # an outline: the thumbnail shows through
                         line=dict(color=MODALITY_COLORS["image"], width=2)) if on_thumbnails else
             dict(size=12 if dims == 2 else 6, symbol="square", color=MODALITY_COLORS["image"]),
             customdata=[[_safe(label), _safe(cap)] for label, cap in zip(image_labels, image_captions)],
             hovertemplate="<b>%{customdata[0]}</b><br>its caption: %{customdata[1]}<extra>image</extra>"),
        dict(type=kind, **coords(text_points), mode="markers+text", name="caption",
             text=[_safe(_short(t)) for t in text_labels], textposition="top center",
             marker=dict(size=10 if dims == 2 else 5, symbol="circle", color=MODALITY_COLORS["caption"]),
             customdata=[_safe(t) for t in text_labels], hovertemplate="%{customdata}<extra>caption</extra>"),
    ]
    rings = ([(chosen, "black", 22)] if chosen else []) + [(n, "grey", 18) for n in neighbours]
    if rings:
        points = [(image_points if which == "image" else text_points)[i] for (which, i), _, _ in rings]
        traces.append(dict(type=kind, **coords(points), mode="markers", name="chosen + neighbours", hoverinfo="skip",
                           marker=dict(size=[s if dims == 2 else s // 2 for _, _, s in rings], color="rgba(0,0,0,0)",
                                       line=dict(color=[c for _, c, _ in rings], width=3))))
    axis_titles = {f"{a}axis": dict(title=dict(text=f"{axis_label} {d + 1}")) for d, a in enumerate(xyz)}
    layout = dict(title=dict(text=title), height=560, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                  legend=dict(orientation="h", y=-0.08))
    layout.update(dict(scene=axis_titles) if dims == 3 else axis_titles)
    if on_thumbnails:
        size = max(np.ptp(np.vstack([image_points, text_points]), axis=0).max(), 1e-6) * THUMBNAIL_FRACTION
        layout["images"] = [dict(source=uri, x=float(x), y=float(y), xref="x", yref="y", sizex=size, sizey=size,
                                 xanchor="center", yanchor="middle", layer="below")
                            for uri, (x, y) in zip(thumbnails, image_points)]
    return plain_figure(traces, layout)


def selected_item(selection: dict | None) -> tuple[str, int] | None:
    """The first image or caption point in a Streamlit plotly selection (box or lasso), as (kind, index)."""
    for point in (selection or {}).get("points", []):
        curve = point.get("curve_number")
        if curve in (1, 2):
            return TRACE_KINDS[curve - 1], int(point["point_index"])
    return None
