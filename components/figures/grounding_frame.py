"""A grounding table (layers x heads) as a styled dataframe: percentages, the best cell highlighted."""
from __future__ import annotations

import numpy as np
import pandas as pd


def grounding_frame(shares: np.ndarray, highlight_best: bool = True):
    """shares: (layers, heads + 1), the last column the mean over heads. highlight_best=False for a baseline table,
    whose best cell is no finding."""
    heads = shares.shape[1] - 1
    frame = pd.DataFrame(shares, columns=[f"head {h}" for h in range(heads)] + ["head mean"],
                         index=[f"layer {layer}" for layer in range(shares.shape[0])])
    best = np.unravel_index(np.argmax(shares), shares.shape)

    def highlight(data: pd.DataFrame) -> pd.DataFrame:
        styles = pd.DataFrame("", index=data.index, columns=data.columns)
        if highlight_best:
            styles.iloc[best] = "background-color: #ffd54f; color: black; font-weight: bold"
        return styles

    return frame.style.format("{:.0%}").apply(highlight, axis=None)
