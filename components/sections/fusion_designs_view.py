"""Three fusion designs side by side: a diagram, what each measured on this input, and how the cost grows."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.concepts.fusion_designs import DesignCost, joint_sequence

DIAGRAM = """
| design | how the streams meet | example |
|---|---|---|
| **late fusion** | image → vision tower → one vector · text → text tower → one vector · **they meet once, in a dot product** | CLIP |
| **cross-attention** | image → vision tower → patch vectors (keys, values) · text tokens → **queries into the patches in every text layer** | BLIP |
| **early fusion** | text tokens + image patches → **one sequence** → one transformer: every token attends to every token | ViLT |
"""

FAMILY_NAMES = {"CLIPModel": "CLIP", "BlipForQuestionAnswering": "BLIP", "ViltForQuestionAnswering": "ViLT"}


def _growth_chart(costs: list[DesignCost]) -> go.Figure:
    """Joint attention vs separate towers as the image grows, for this input's text length T: every design is
    quadratic in its own sequences; the joint sequence also pays every cross pair (2·T·N)."""
    t = costs[-1].text_tokens
    n = np.arange(1, 1025)
    separate, cross, joint = n ** 2 + t ** 2, n ** 2 + t ** 2 + t * n, (n + t) ** 2
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=n, y=cross / separate, name="cross-attention / separate towers"))
    fig.add_trace(go.Scatter(x=n, y=joint / separate, name="early fusion / separate towers"))
    fig.update_layout(title=f"Attention cost relative to late fusion's separate towers (T = {t} text tokens)",
                      height=320, xaxis_title="image tokens N", yaxis_title="query-key pairs, ratio",
                      xaxis_type="log", margin=dict(l=10, r=10, t=40, b=10))
    return fig


def fusion_designs_view(costs: list[DesignCost], key: str) -> None:
    st.markdown(DIAGRAM)
    for column, c in zip(st.columns(len(costs)), costs):  # the three answers side by side
        name = FAMILY_NAMES.get(c.model, c.model)
        column.metric(f"{c.design}: {name}" + (" (scores the match, no answer)" if c.design == "late fusion" else ""),
                      c.answer, f"{c.gflops:.2f} GFLOP · {c.latency_ms:.0f} ms", delta_color="off")
    st.dataframe([{"design": c.design, "model": c.model, "answer": c.answer, "text tokens": c.text_tokens,
                   "image tokens": c.image_tokens, "query-key pairs": c.attention_entries,
                   "GFLOP": round(c.gflops, 3), "latency (ms)": round(c.latency_ms, 1)} for c in costs],
                 key=f"{key}_table", hide_index=True, use_container_width=True)
    st.caption("Measured once on this image and text: FLOPs by torch's FLOP counter, latency the best of 3 forwards "
               "on this server (each model's fusing forward only, no answer generation). The attention each one "
               "builds: " + "; ".join(f"**{c.design}** {c.attention_shapes}" for c in costs) + ".")
    st.plotly_chart(_growth_chart(costs), key=f"{key}_growth")
    st.caption("Every design is quadratic in the sequences it attends over. Early fusion also scores every "
               "text-image pair (2·T·N more than separate towers): up to twice the cost when the modalities are "
               "the same length, and it grows with the sum of all modalities, squared.")

    st.markdown("**Any-to-any (an illustration, not a model).** Native multimodal models add more modalities to the "
                "same stream: a Whisper-style audio encoder gives 50 frames per second of audio.")
    seconds = st.slider("Seconds of audio joining the stream", 0.0, 30.0, 5.0, 0.5, key=f"{key}_audio")
    early = costs[-1]
    stream = joint_sequence(early.text_tokens, early.image_tokens, seconds)
    st.markdown(f"{stream.text} text + {stream.image} image + **{stream.audio} audio** tokens = "
                f"{stream.joint} in one sequence: **{stream.attention_entries:,}** query-key pairs per layer "
                "and head.")
