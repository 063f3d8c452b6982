"""Image and caption embeddings projected to 2-D, one colour per modality, a line per matched pair."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

MODALITY_COLORS = {"image": "#1f77b4", "text": "#ff7f0e"}


def projection_plot(image_points: np.ndarray, image_labels: list[str], text_points: np.ndarray,
                    text_labels: list[str], pairs: list[tuple[int, int]], title: str = "") -> go.Figure:
    """image_points: (I, 2); text_points: (T, 2); pairs: (image index, text index) drawn as dotted lines."""
    fig = go.Figure()
    for i, t in pairs:
        fig.add_trace(go.Scatter(x=[image_points[i, 0], text_points[t, 0]], y=[image_points[i, 1], text_points[t, 1]],
                                 mode="lines", line=dict(color="grey", dash="dot", width=1), showlegend=False,
                                 hoverinfo="skip"))
    for name, points, labels, symbol in (("image", image_points, image_labels, "square"),
                                         ("text", text_points, text_labels, "circle")):
        fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers+text", name=name,
                                 text=[html.escape(label, quote=False) for label in labels],  # may be user text
                                 textposition="top center", marker=dict(size=12, symbol=symbol,
                                                                         color=MODALITY_COLORS[name]),
                                 hovertemplate="%{text}<extra>" + name + "</extra>"))
    fig.update_layout(title=title, height=480, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis_title="PC 1", yaxis_title="PC 2")
    return fig
