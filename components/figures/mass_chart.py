"""Cross-modal attention mass per layer: how much the two modalities read each other as depth grows."""
from __future__ import annotations

import numpy as np

from components.figures.frozen_figure import FrozenFigure, cached_figure, plain_figure
from core.concepts.early_fusion import ModalityMass


@cached_figure
def mass_chart(mass: ModalityMass, title: str = "") -> FrozenFigure:
    """mass: both directions, (layers, heads) each; one line per direction, the mean over heads, with each head as dots."""
    traces = []
    for (name, values), color in zip(mass.named(), ("#1f77b4", "#ff7f0e")):
        layers = np.arange(values.shape[0])
        traces.append(dict(type="scatter", x=layers, y=values.mean(axis=1), mode="lines+markers",
                           name=f"{name} (head mean)", line=dict(color=color, width=3)))
        heads = np.tile(np.arange(values.shape[1]), values.shape[0])  # every head's dot in one trace: one object
        traces.append(dict(type="scatter", x=np.repeat(layers, values.shape[1]), y=values.reshape(-1),
                           customdata=heads, mode="markers", marker=dict(color=color, size=6, opacity=0.45),
                           name=f"{name} heads", showlegend=False,
                           hovertemplate=f"{name}, head %{{customdata}}<br>layer %{{x}}: %{{y:.2f}}<extra></extra>"))
    return plain_figure(traces, dict(title=dict(text=title), height=340, margin=dict(l=10, r=10, t=40, b=10),
                                     xaxis=dict(title=dict(text="layer"), dtick=1),
                                     yaxis=dict(title=dict(text="attention mass"), range=[0, 1])))
