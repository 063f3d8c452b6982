"""One compact line per page: what the request behind the page's result cost (core/analysis/cost.py)."""
from __future__ import annotations

import streamlit as st

from core.analysis.cost import Cost, computed_now, readout

HELP = ("Text tokens and image tokens (or audio frames): what the model read. Attention weights: every "
        "query x key score the forward computed, over all layers, heads and decoding steps (self-attention, and "
        "cross-attention where text reads the image or sound). FLOPs: torch's FLOP counter (a multiply-add counts "
        "2), counted once per input shape. Time: this result's forward on the server, without any wait in the "
        "queue; a result already computed for this input is served from the cache.")


def cost_readout(cost: Cost | None) -> None:
    """The cost line, placed under the page's answer or top result; nothing if the result carries no cost."""
    if cost is not None:
        st.caption(f":material/speed: **Cost** · {readout(cost, computed_now(cost))}", help=HELP)
