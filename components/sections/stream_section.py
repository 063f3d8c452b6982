"""Early fusion: the stream, one row per token, its content + position + modality embeddings."""
from __future__ import annotations

from dataclasses import asdict

import streamlit as st

from components.figures.tables import arrow_table
from core.concepts.early_fusion import FusionResult


def stream_section(result: FusionResult) -> None:
    with st.expander(f"The stream: {result.n_text} text tokens + {result.n_image} image tokens = "
                     f"{result.n_text + result.n_image}"):
        st.caption("Each token's vector = its content (a word embedding or a patch projection) + a position embedding "
                   "+ a modality (token-type) embedding. ViLT draws the image tokens in a random order on every "
                   "forward; the position column says which patch each one is.")
        st.dataframe(arrow_table([asdict(row) for row in result.stream_rows()]), key="fusion_stream", height=260)
