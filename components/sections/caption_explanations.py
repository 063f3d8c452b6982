"""Captioning mode: the four explanation methods side by side for the caption word the step slider chose."""
from __future__ import annotations

import streamlit as st

from components.sections.method_columns import method_overlays
from components.service import models, more_explanations
from core.attention import HEAD_MEAN

CLAIMS = {
    "raw": "Where this word's query put its weight in one layer and head: what it read, not what the word used.",
    "rollout": "Cross-attention carried through the decoder's causal self-attention to this step; word-blind.",
    "grad_x_attention": "Attention weights whose increase would raise this word's log-probability (one layer).",
    "chefer": "Gradient-weighted attention propagated through every decoder layer's self- and cross-attention.",
}


def caption_explanations_section(pack: str, image_png: bytes) -> None:
    """Reads the caption view's own widgets (caption_step, caption_layer, caption_head); costs nothing closed."""
    result = models.caption(pack, image_png)  # cached: the caption view has just asked for it
    if not result.words:
        return
    box = st.expander("Compare explanation methods for this word", key="caption_explain", on_change="rerun")
    with box:
        if not box.open:  # closed: no backward pass (one per word explained)
            return
        step = min(int(st.session_state.get("caption_step", 0)), len(result.words) - 1)
        n_layers = result.cross_attentions.shape[0]
        layer = st.session_state.get("caption_layer", n_layers - 1)
        head = st.session_state.get("caption_head", HEAD_MEAN)
        explained = more_explanations.caption_word(pack, image_png, step)
        word = result.words[step]
        st.markdown(f"Four answers to *which patches did the decoder use to write “{word}”?* The gradient methods "
                    f"explain y = log P(“{word}” | image, the words before it), the caption teacher-forced "
                    f"(P = {explained.probability:.1%}). Each map has its own colour scale: compare where they "
                    "point, not how bright." + (" The word is nearly certain, so its gradients are tiny (the "
                                                 "gradient maps' scales may read in n, billionths): read their shape."
                                                 if explained.probability > 0.99 else ""))
        method_overlays(result.patches, {m: v[step] for m, v in explained.maps(layer, head).items()},
                        key="caption_explain", claims=CLAIMS)
        st.caption("Raw follows the layer and head above; gradient x attention follows the layer; rollout and Chefer "
                   "use every layer and head. The image tower's own relevancy is left as the identity (it runs "
                   "without gradient).")
