"""Step through the cross-attention story one stage at a time: image -> patches -> question tokens -> each
token's attention over the patches."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.figures.pictures import picture_png
from core.concepts.cross_attention import CrossAttentionResult


def step_through(result: CrossAttentionResult, matrix: np.ndarray, key: str) -> None:
    """matrix: (T, N) the token x patch attention of the chosen layer/head."""
    answers = [a for a in result.answer_tokens if a not in ("[SEP]", "[PAD]")]
    stages = ["the image", "its patches", "the question's tokens"] + [f"“{t}” looks" for t in result.tokens] + \
        [f"answer “{a}” (via the question)" for a in answers]
    stage = st.select_slider("Stage", options=list(range(len(stages))), format_func=lambda i: stages[i],
                             key=f"{key}_stage")
    rows, cols = result.grid
    if stage == 0:
        st.image(picture_png(result.patches.image, 320), width=320, output_format="PNG",
                 caption="The image as the model receives it (resized, normalisation undone)")
    elif stage == 1:
        title = f"{rows} x {cols} = {rows * cols} patches of {result.patches.patch_size} px"
        st.plotly_chart(patch_overlay(result.patches, title=title), key=f"{key}_patches")
        st.caption("Each patch becomes one vector: these are the keys and values the text will query.")
    elif stage == 2:
        st.markdown(" ".join(f"`{t}`" for t in result.tokens))
        st.caption(f"{len(result.tokens)} tokens; each sends one query per head to all {rows * cols} patches "
                   "(and the image's CLS token).")
    elif stage >= 3 + len(result.tokens):
        a = stage - 3 - len(result.tokens)
        flow = result.answer_patch_flow(matrix)[a]
        st.plotly_chart(patch_overlay(result.patches, result.patches.on_grid(flow),
                                      title=f"Answer “{answers[a]}”: composed attention via the question"),
                        key=f"{key}_answer")
        st.caption("BLIP's answer decoder does not attend to the patches: it attends to the question tokens, which "
                   "did. This map multiplies the two steps (answer -> question tokens -> patches).")
    else:
        t = stage - 3
        st.plotly_chart(patch_overlay(result.patches, result.patches.on_grid(matrix[t]),
                                      title=f"Where “{result.tokens[t]}” looked"), key=f"{key}_token")
