"""The modality gap drawn: both clouds, their centroids, and the vector from the image centroid to the text one."""
from __future__ import annotations

import numpy as np

from components.figures.frozen_figure import FrozenFigure, cached_figure, plain_figure

IMAGE_COLOUR, TEXT_COLOUR = "#1f77b4", "#ff7f0e"  # as projection_plot draws images and captions


@cached_figure
def modality_gap_figure(image_xy: np.ndarray, text_xy: np.ndarray, gap: float, title: str = "",
                        axis_label: str = "PC") -> FrozenFigure:
    """image_xy: (I, 2), text_xy: (T, 2) one linear projection of both; the centroids are the clouds' means (a
    linear map keeps means), the arrow runs from the image centroid to the caption centroid; gap: its length in
    the full space, written on it (a projection shortens it)."""
    image_c, text_c = image_xy.mean(axis=0), text_xy.mean(axis=0)
    traces = [
        dict(type="scatter", x=image_xy[:, 0], y=image_xy[:, 1], mode="markers", name="images",
             marker=dict(color=IMAGE_COLOUR, size=8, opacity=0.45), hoverinfo="skip"),
        dict(type="scatter", x=text_xy[:, 0], y=text_xy[:, 1], mode="markers", name="captions",
             marker=dict(color=TEXT_COLOUR, size=8, opacity=0.45, symbol="diamond"), hoverinfo="skip"),
        dict(type="scatter", x=[image_c[0]], y=[image_c[1]], mode="markers+text", name="image centroid",
             marker=dict(color=IMAGE_COLOUR, size=16, symbol="x"), text=["image centroid"],
             textposition="bottom center", hovertemplate="image centroid<extra></extra>"),
        dict(type="scatter", x=[text_c[0]], y=[text_c[1]], mode="markers+text", name="caption centroid",
             marker=dict(color=TEXT_COLOUR, size=16, symbol="x"), text=["caption centroid"],
             textposition="top center", hovertemplate="caption centroid<extra></extra>"),
    ]
    arrow = dict(x=float(text_c[0]), y=float(text_c[1]), ax=float(image_c[0]), ay=float(image_c[1]), xref="x",
                 yref="y", axref="x", ayref="y", showarrow=True, arrowhead=3, arrowwidth=2, arrowcolor="#d62728",
                 text="")
    middle = (image_c + text_c) / 2
    label = dict(x=float(middle[0]), y=float(middle[1]), xref="x", yref="y", showarrow=False,
                 text=f"gap {gap:.2f}", font=dict(color="#d62728", size=14), bgcolor="rgba(255,255,255,0.7)",
                 xshift=60)  # beside the arrow: a small gap puts the centroids' own labels on its middle
    return plain_figure(traces, dict(
        title=dict(text=title), height=380, margin=dict(l=10, r=10, t=40, b=10), annotations=[arrow, label],
        xaxis=dict(title=dict(text=f"{axis_label} 1")), yaxis=dict(title=dict(text=f"{axis_label} 2")),
        legend=dict(orientation="h", y=-0.2)))
