"""CLIP space, section 1's matrix: images x captions as cosines or as the logits CLIP's softmax sees; its export."""
from __future__ import annotations

import streamlit as st

from components.figures.attention_matrix import attention_matrix
from components.service.clip_source import ClipSource
from components.widgets import export  # looked up on each call, so a test can swap export.export_matrix
from core.concepts.clip_space import ClipSpace


def similarity_section(space: ClipSpace, image_labels: list[str], captions: list[str], pairs_n: int,
                       source: ClipSource) -> None:
    as_logits = st.radio("Show", ["cosine", "logits = cosine × CLIP's learned scale"], horizontal=True,
                         key="clip_matrix_values") != "cosine"
    matrix = space.logits if as_logits else space.similarity
    fig = attention_matrix(matrix, image_labels, captions, height=520, x_title="captions", y_title="images",
                           title=f"{'Logits' if as_logits else 'Cosine similarity'} (images x captions); "
                                 "boxes: matched pairs", value_label="logit" if as_logits else "cosine",
                           cells=[(i, i) for i in range(pairs_n)])
    st.plotly_chart(fig, key="similarity", config=export.chart_config("clip-space_similarity"))
    export.export_matrix(matrix, image_labels, captions, "clip-space_similarity", key="clip_similarity_export",
                         figure=fig, corner="image \\ caption", values="logits" if as_logits else "cosine",
                         model=source.label)
