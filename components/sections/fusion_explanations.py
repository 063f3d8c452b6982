"""Early fusion: the four explanation methods side by side for the chosen question token, in ViLT's joint stream."""
from __future__ import annotations

import streamlit as st

from components.sections.method_columns import method_overlays
from components.service import more_explanations

CLAIMS = {
    "raw": "Where this token's query put its weight on the patches in one layer and head: what it read there.",
    "rollout": "Attention multiplied through every layer of the joint stream (Abnar & Zuidema); answer-blind.",
    "grad_x_attention": "Attention weights whose increase would raise the answer's logit (one layer).",
    "chefer": "Gradient-weighted self-attention propagated through every layer: R += Ā R (Chefer 2021).",
}
NOTES = {"grad_x_attention": "All zero: ViLT answers from the first token ([CLS]) of the last layer, so no other "
                             "token's row there reaches the answer. Pick an earlier layer."}


def fusion_explanations_section(pack: str, image_png: bytes, question: str, layer, head, token: int) -> None:
    """layer, head: the joint-attention view's (raw; layer also for gradient x attention); token: a text token."""
    box = st.expander("Compare explanation methods for this token", key="fusion_explain", on_change="rerun")
    with box:
        if not box.open:  # closed: no backward pass
            return
        explained = more_explanations.fusion(pack, image_png, question)
        token = min(token, len(explained.tokens) - 1)
        st.markdown(f"Four answers to *which patches did “{explained.tokens[token]}” bring into the answer "
                    f"“{explained.answer}”?* The gradient methods explain the answer's VQA logit (sigmoid "
                    f"{explained.score:.2f}); patches in reading order. Each map has its own colour scale.")
        method_overlays(explained.patches, {m: v[token] for m, v in explained.maps(layer, head).items()},
                        key="fusion_explain", claims=CLAIMS, notes=NOTES)
        st.caption("Raw follows the layer and head above; gradient x attention follows the layer; rollout and Chefer "
                   "use every layer and head of the one stream (no cross-attention: text reads the image through the "
                   "text->image block).")
