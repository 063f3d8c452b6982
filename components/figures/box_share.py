"""How much of CLS's attention falls inside a box, layer by layer, against the box's share of the image."""
from __future__ import annotations

import numpy as np

from components.figures.frozen_figure import FrozenFigure, cached_figure, plain_figure


@cached_figure
def box_share_chart(shares: np.ndarray, area: float, title: str = "") -> FrozenFigure:
    """shares: (layers,) the share of CLS's attention (mean over heads) inside the box in each layer; area: the
    box's share of the image, what a uniform map would put there (the baseline)."""
    layers = np.arange(len(shares))
    traces = [
        dict(type="scatter", x=layers, y=np.asarray(shares, dtype=np.float32), mode="lines+markers",
             name="CLS attention inside the box", line=dict(color="#d62728", width=3),
             hovertemplate="layer %{x}: %{y:.0%} of CLS's attention<extra></extra>"),
        dict(type="scatter", x=[layers[0], layers[-1]], y=[area, area], mode="lines", name="the box's area",
             line=dict(color="#7f7f7f", dash="dash"), hovertemplate=f"area share {area:.0%}<extra></extra>"),
    ]
    return plain_figure(traces, dict(title=dict(text=title), height=320, margin=dict(l=10, r=10, t=40, b=10),
                                     xaxis=dict(title=dict(text="layer"), dtick=1),
                                     yaxis=dict(title=dict(text="share"), range=[0, 1], tickformat=".0%"),
                                     legend=dict(orientation="h", y=-0.25)))
