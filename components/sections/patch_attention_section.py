"""Patching, section 4's maps: where CLS and the clicked patch look in one layer and head; the matrix to export."""
from __future__ import annotations

import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.widgets.export import chart_config, export_matrix
from core.attention import HEAD_MAX, select
from core.concepts.patching import PatchView


def patch_attention_section(view: PatchView, layer, head, patch: int, pack: str, image_name: str) -> None:
    r, c = divmod(patch, view.grid[1])
    attention = select(view.attentions, layer, head)  # (1 + N, 1 + N): the export's full matrix
    cls_map = view.cls_to_patches(layer, head)  # (rows, cols)
    left, right = st.columns(2)
    left.plotly_chart(patch_overlay(view.patches, cls_map, title="CLS -> patch attention"), key="cls_attention",
                      config=chart_config(f"patching_cls_layer-{layer}_head-{head}"))
    patch_map = view.patch_to_patches(patch, layer, head)  # (rows, cols)
    right.plotly_chart(patch_overlay(view.patches, patch_map,
                                     title=f"Where p({r},{c}) looks (click another patch above)"), key="patch_attention")
    st.caption(f"{cls_sum_sentence(cls_map.sum(), head)} Download this layer and head's full attention matrix (CLS "
               "and every patch, with labels):")
    token_labels = ["CLS"] + view.patches.labels()
    export_matrix(attention, token_labels, token_labels, f"patching_layer-{layer}_head-{head}", key="patching_export",
                  corner="query \\ key", layer=str(layer), head=str(head), pack=pack, image=image_name)


def cls_sum_sentence(total: float, head) -> str:
    """What the CLS map's sum means: a share of one distribution for a head or the mean of heads; for the max over
    heads, each patch's largest weight in any head, which is no distribution (it may sum past 1: no "rest")."""
    if head == HEAD_MAX:
        return (f"Max over heads: each patch shows the largest weight any one head gives it, so the map is no longer "
                f"a distribution (it sums to {total:.3f}); it shows where some head looks, not how CLS splits its "
                "attention.")
    return f"CLS attention over patches sums to {total:.3f}; the rest ({1 - total:.3f}) goes to CLS itself."
