"""Patching, after the formulas: attention rollout into CLS over all layers; each head's mean attention distance."""
from __future__ import annotations

import streamlit as st

from components.figures.attention_matrix import attention_matrix
from components.figures.patch_overlay import patch_overlay
from components.widgets.export import chart_config
from core.attention.rollout import HEAD_FUSIONS
from core.concepts.patching import PatchView


def rollout_section(view: PatchView) -> None:
    n_layers, n_heads = view.attentions.shape[:2]
    left, right = st.columns(2)
    fusion = left.selectbox("Rollout: fuse heads by", HEAD_FUSIONS, key="patching_fusion")
    discard = right.slider("Rollout: discard the weakest share of weights", 0.0, 0.95, 0.0, 0.05,
                           key="patching_discard")
    rolled = view.rollout_into_cls(fusion, discard)  # (N,): how much each patch flows into the final CLS
    left.plotly_chart(patch_overlay(view.patches, view.patches.on_grid(rolled),
                                    title="Attention rollout into CLS, all layers", value_label="rollout"),
                      key="rollout", config=chart_config("patching_rollout"))
    distance = view.attention_distance()  # (L, H)
    right.plotly_chart(attention_matrix(distance, [f"layer {i}" for i in range(n_layers)],
                                        [f"head {h}" for h in range(n_heads)], x_title="head", y_title="layer",
                                        value_label="pixels", title="Mean attention distance (local early, global "
                                        "late?)", height=420), key="attention_distance")
    st.caption("Rollout multiplies the layers' attention (keeping the residual's half of each token) to follow the "
               "input patches into the final CLS; raw attention shows one layer only. Mean attention distance: how "
               f"far, in pixels of this {view.patches.image.shape[0]} px image, a patch's attention reaches.")
