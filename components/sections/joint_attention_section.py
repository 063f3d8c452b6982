"""Early fusion: the joint self-attention matrix in its four text/image blocks, each block's share, the export."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.attention_matrix import attention_matrix
from components.widgets.export import chart_config, export_matrix
from core.concepts.early_fusion import FusionResult, block_label_positions


def joint_attention_section(result: FusionResult, matrix: np.ndarray, tokens: list[str], layer, head, question: str,
                            pack: str) -> None:
    """matrix: (S, S) with the patches in reading order; tokens: its labels in that order."""
    boundary = result.n_text - 0.5
    st.plotly_chart(attention_matrix(matrix, tokens, tokens, title="Joint self-attention (patches in reading order)",
                                     boundaries=[("x", boundary), ("y", boundary)], height=560,
                                     block_labels=block_label_positions(result.n_text, result.n_image)),
                    key="joint_attention", config=chart_config(f"early-fusion_layer-{layer}_head-{head}"))
    blocks = result.blocks(matrix)
    st.caption(
        f"{result.n_text} text tokens + {result.n_image} image tokens (1 image CLS + {result.n_image - 1} patches). "
        "The blue lines split the four blocks; share of attention per block (rows are queries): "
        + ", ".join(f"{name} {block.sum() / matrix.sum():.0%}" for name, block in blocks.named())
    )
    export_matrix(matrix, tokens, tokens, f"early-fusion_layer-{layer}_head-{head}", key="fusion_export",
                  corner="query \\ key", layer=str(layer), head=str(head), question=question, pack=pack,
                  n_text=str(result.n_text))
