"""Patching: the four explanation methods side by side for the vision tower's CLS token (closed until opened)."""
from __future__ import annotations

import streamlit as st

from components.sections.method_columns import method_overlays
from components.service import models, vision_explanations
from components.widgets.inputs import Inputs
from components.widgets.layer_head import layer_head_selectors
from components.widgets.vision_choice import VisionChoice
from core.inputs.images import sample_scene

KEY = "cls_explain"
CLAIMS = {
    "raw": "Where CLS's query put its weight on the patches in one layer and head: what it read, not what counted.",
    "rollout": "Attention multiplied through every layer, half kept for the residual (Abnar & Zuidema); target-blind.",
    "grad_x_attention": "CLS attention weights in this layer whose increase would raise the logit (Grad-CAM style).",
    "chefer": "Gradient-weighted attention propagated through every layer: R += Ā R (Chefer 2021).",
}
DINO_CLAIMS = {**CLAIMS,
               "grad_x_attention": "CLS attention weights in this layer whose increase would lengthen the CLS vector.",
               "chefer": "Gradient-weighted attention through every layer, for the CLS vector's length (Chefer 2021)."}
NO_CAPTION = ("CLIP's gradient methods explain the logit of an image-text pair, and this photo has no text: type a "
              "caption in the sidebar (for example “a photo of a cat”) to explain its match.")
DINO_NOTE = ("DINOv2 was trained without labels or text, so it makes no decision to explain. The gradient methods "
             "here explain y = the length of the final CLS vector: what made the CLS vector large, not a decision. "
             "Rollout and raw attention do not depend on y; compare how much the other two change with it.")


def hub_serves(pack: str, role: str) -> bool:
    """Whether a hub CLIP (not the bundled one, which knows only the shapes world) answers for this role now."""
    return models.serving_pack(pack, role) == "hub"


def cls_explanations_section(inputs: Inputs, choice: VisionChoice) -> None:
    """inputs: the sidebar's (pack, image, text); choice: the page's vision model."""
    box = st.expander("Compare explanation methods for CLS", key=KEY, on_change="rerun")
    with box:
        if not box.open:  # closed: no backward pass
            return
        photo = sample_scene(inputs.image_name) is None
        if choice.role == "vision":
            explained, claims = vision_explanations.dino_cls(inputs.pack, inputs.image_png), DINO_CLAIMS
            st.markdown(f"Four answers to *which patches made DINOv2's CLS vector long?* (|CLS| = "
                        f"{explained.score:.1f}.) Patches in reading order; each map has its own colour scale.")
            if choice.side != vision_explanations.DINO_SIDE:
                st.caption(f"Explained at {vision_explanations.DINO_SIDE} px: at {choice.side} px the attention "
                           "maps and their gradients of all 12 layers hold about 1.7 GB while they are computed "
                           "(measured), too much for a shared server.")
            st.info(DINO_NOTE)
        else:
            hub_photo = photo and hub_serves(inputs.pack, choice.role)
            if hub_photo and not inputs.text:
                st.info(NO_CAPTION)
                return
            explained = vision_explanations.clip_cls(inputs.pack, inputs.image_png, choice.role,
                                                     inputs.text if hub_photo else None)
            claims = CLAIMS
            runner_up = (f"; next best “{explained.choices[1][0]}”, {explained.choices[1][1]:.1f}"
                         if len(explained.choices) > 1 else "")
            st.markdown(f"Four answers to *which patches made CLIP's image vector match this text?* The gradient "
                        f"methods explain y = the {explained.target} ({explained.score:.1f}{runner_up}). Patches "
                        "in reading order; each map has its own colour scale.")
            if photo and not hub_photo:
                st.caption("The bundled CLIP knows only the shapes world: on a photo its best shape prompt is a "
                           "guess, and so is what the gradient methods explain.")
        n_layers, n_heads = explained.attentions.shape[:2]
        layer, head = layer_head_selectors(n_layers, n_heads, key=KEY, allow_layer_mean=True)
        method_overlays(explained.patches, explained.maps(layer, head), key=KEY, claims=claims)
        st.caption("Raw follows the layer and head chosen here; gradient x attention follows the layer (its heads "
                   "folded by the mean of the positive part); rollout and Chefer use every layer and head. All four "
                   "read the CLS row, the CLS column left out.")
