"""One value per token as a bar chart (how much each token attended to one patch, for example)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from components.attention_matrix import unique_labels


def token_bars(values: np.ndarray, tokens: list[str], title: str = "", value_label: str = "attention") -> go.Figure:
    if values.shape != (len(tokens),):
        raise ValueError(f"{values.shape} values for {len(tokens)} tokens")
    fig = go.Figure(go.Bar(x=unique_labels(tokens), y=values, marker_color="#1f77b4",
                           hovertemplate="%{x}<br>" + value_label + " %{y:.3f}<extra></extra>"))
    fig.update_layout(title=title, height=280, margin=dict(l=10, r=10, t=40, b=10), yaxis_title=value_label)
    return fig
