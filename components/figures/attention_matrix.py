"""An attention matrix as a heatmap: rows are queries, columns are keys, each row sums to 1."""
from __future__ import annotations

import html

import numpy as np

from components.figures.frozen_figure import FrozenFigure, cached_figure, plain_figure
from components.figures.patch_overlay import COLORSCALE_STOPS


def unique_labels(labels: list[str]) -> list[str]:
    """Plotly merges equal category labels; prefix each with its position so 'the' and 'the' stay two rows.
    Labels may be user text (captions): escaped, because Plotly renders tags such as <b> or <a href> in labels."""
    return [f"{i}:{html.escape(label, quote=False)}" for i, label in enumerate(labels)]


@cached_figure
def attention_matrix(
    matrix: np.ndarray,
    query_labels: list[str],
    key_labels: list[str],
    title: str = "",
    boundaries: list[tuple[str, float]] | None = None,
    block_labels: list[tuple[float, float, str]] | None = None,
    height: int = 480,
    x_title: str = "keys",
    y_title: str = "queries",
    value_label: str = "weight",
    cells: list[tuple[int, int]] = (),
) -> FrozenFigure:
    """matrix: (queries, keys). boundaries: ('x' or 'y', position) lines, e.g. where text tokens end.
    cells: (row, column) of cells to outline, e.g. the matched pairs of the CLIP page's similarity matrix."""
    if matrix.shape != (len(query_labels), len(key_labels)):
        raise ValueError(f"matrix {matrix.shape} vs {len(query_labels)} query and {len(key_labels)} key labels")
    heatmap = dict(
        type="heatmap", z=matrix, x=unique_labels(key_labels), y=unique_labels(query_labels),
        colorscale=COLORSCALE_STOPS,
        colorbar=dict(title=dict(text=value_label), thickness=12),
        hovertemplate=f"{y_title}: %{{y}}<br>{x_title}: %{{x}}<br>{value_label} %{{z:.3f}}<extra></extra>",
    )
    line = dict(color="#00d4ff", width=2)
    shapes = [dict(type="line", x0=position, x1=position, y0=-0.5, y1=len(query_labels) - 0.5, line=line)
              if axis == "x" else
              dict(type="line", y0=position, y1=position, x0=-0.5, x1=len(key_labels) - 0.5, line=line)
              for axis, position in boundaries or []]
    shapes += [dict(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, line=line) for r, c in cells]
    annotations = [dict(x=x, y=y, xref="x", yref="y", text=text, showarrow=False, font=dict(color="white", size=14),
                        bgcolor="rgba(0,0,0,0.45)")
                   for x, y, text in block_labels or []]  # (column, row, label) at a block's centre
    layout = dict(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                  yaxis=dict(autorange="reversed", title=dict(text=y_title)),
                  xaxis=dict(title=dict(text=x_title), tickangle=-60 if len(key_labels) > 12 else -25))
    if shapes:
        layout["shapes"] = shapes
    if annotations:
        layout["annotations"] = annotations
    return plain_figure([heatmap], layout)
