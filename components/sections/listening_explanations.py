"""Listening: the four explanation methods side by side for the chosen word's first token, as curves over time."""
from __future__ import annotations

import streamlit as st

from components.sections.method_columns import method_curves
from components.service import more_explanations
from core.attention import HEAD_MEAN
from core.concepts.listening import Listening

CLAIMS = {
    "raw": "Where this token's query put its weight over the frames (the view chosen above): what it read.",
    "rollout": "Cross-attention carried through the decoder's causal self-attention to this token; token-blind.",
    "grad_x_attention": "Attention weights whose increase would raise this token's log-probability (one layer).",
    "chefer": "Gradient-weighted attention propagated through the decoder's self- and cross-attention.",
}


def listening_explanations_section(pack: str, wav: bytes, role: str, heard: Listening, token: int, layer,
                                   head) -> None:
    """layer, head: the page's choice, None for the timing heads (raw is then their mean, gradient x attention the
    last layer's)."""
    box = st.expander("Compare explanation methods for this token", key="listen_explain", on_change="rerun")
    with box:
        if not box.open:  # closed: no backward pass (one per token explained)
            return
        explained = more_explanations.listening_token(pack, wav, role, token)
        maps = explained.maps(-1 if layer is None else layer, HEAD_MEAN if head is None else head)
        if layer is None:
            maps["raw"] = heard.alignment_mean()
        word = heard.words[heard.word_of(token)] if heard.words else None
        st.markdown(f"Four answers to *which stretch of sound did the decoder use to write “{explained.answer}”?* "
                    f"The gradient methods explain y = log P(“{explained.answer}” | audio, the tokens before it), "
                    f"teacher-forced (P = {explained.probability:.1%}). Each curve has its own scale.")
        method_curves({m: v[token] for m, v in maps.items()}, heard.frame_seconds, heard.tokens[token],
                      key="listen_explain", span=(word.start, word.end) if word else None, claims=CLAIMS)
        st.caption("Orange outline: the word's span from the timing heads. The encoder's own self-attention "
                   "relevancy is left as the identity (it runs without gradient): a frame's score is what the "
                   "decoder read from that frame's encoder output.")
