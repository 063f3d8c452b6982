"""One value per token as a bar chart (how much each token attended to one patch, for example)."""
from __future__ import annotations

import numpy as np

from components.figures.attention_matrix import unique_labels
from components.figures.frozen_figure import FrozenFigure, cached_figure, plain_figure


@cached_figure
def token_bars(values: np.ndarray, tokens: list[str], title: str = "", value_label: str = "attention") -> FrozenFigure:
    if values.shape != (len(tokens),):
        raise ValueError(f"{values.shape} values for {len(tokens)} tokens")
    bars = dict(type="bar", x=unique_labels(tokens), y=values, marker=dict(color="#1f77b4"),
                hovertemplate="%{x}<br>" + value_label + " %{y:.3f}<extra></extra>")
    return plain_figure([bars], dict(title=dict(text=title), height=280, margin=dict(l=10, r=10, t=40, b=10),
                                     yaxis=dict(title=dict(text=value_label))))
