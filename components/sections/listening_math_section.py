"""Listening: "The math, with this model's real numbers", softmax(q·k/√d) for one text position and one frame."""
from __future__ import annotations

import streamlit as st

from core.concepts.listening_math import ListeningMath
from core.inputs.text_limits import escape_markdown

SHOWN_DIMS = 8  # the first dimensions of q and k: enough to see a dot product being summed


def _seconds(frame: int, frame_seconds: float) -> str:
    return f"{frame * frame_seconds:.2f}–{(frame + 1) * frame_seconds:.2f} s"


def listening_math_section(math: ListeningMath, token_label: str, frame_seconds: float = 0.02) -> None:
    """Pure display of a recomputed cross-attention weight: no model calls."""
    st.markdown(
        f"Layer {math.layer}, head {math.head}: the decoder position that writes "
        f"**{escape_markdown(token_label.strip())}** asks audio frame "
        f"**{math.frame}** ({_seconds(math.frame, frame_seconds)}). $q$, $k$ and $v$ each have "
        f"$d = {math.d_head}$ numbers; the softmax runs over all {len(math.weights)} frames of the 30 s window."
    )
    dot = float(math.q @ math.k)
    st.latex(
        r"\alpha = \frac{\exp(q\cdot k/\sqrt{d})}{\sum_{f'} \exp(q\cdot k_{f'}/\sqrt{d})}"
        rf" = \frac{{\exp({dot:.3f}/\sqrt{{{math.d_head}}})}}{{e^{{{math.log_normaliser:.3f}}}}}"
        rf" = \frac{{e^{{{math.score:.3f}}}}}{{e^{{{math.log_normaliser:.3f}}}}} = {math.weight:.6f}"
    )
    dims = range(min(SHOWN_DIMS, math.d_head))
    rows = [{"vector": name, **{str(i): float(vector[i]) for i in dims}}
            for name, vector in (("q (text position)", math.q), ("k (audio frame)", math.k),
                                 ("q × k", math.q * math.k))]
    st.dataframe(rows, hide_index=True)
    st.caption(f"First {len(dims)} of {math.d_head} dimensions. Summed over all {math.d_head}: q·k = {dot:.3f}; "
               f"divided by √{math.d_head}: score = {math.score:.3f}.")
    recomputed, model, gap = st.columns(3)
    recomputed.metric("weight, recomputed here", f"{math.weight:.6f}")
    model.metric("weight, the model's own", f"{math.model_weight:.6f}")
    gap.metric("gap", f"{math.gap:.1e}", help=f"Largest gap over the whole row: {math.max_gap:.1e}.")
    top = ", ".join(f"{f} ({f * frame_seconds:.2f} s, {math.weights[f]:.3f})" for f in math.top_frames)
    st.markdown(f"Frames this head listens to most: {top}. Its context vector, Σ weight · v over the frames, "
                f"has norm {math.context_norm:.3f}.")
    st.caption("The same operation as the image page: the keys are 20 ms audio frames instead of patches.")
