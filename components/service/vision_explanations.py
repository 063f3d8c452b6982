"""Cached results of the explanation-method comparison for the Patching page's CLS token
(core/analysis/relevancy_vision.py).

Keyed like components/service/models.py: the serving pack + the image's bytes + what picks the model (the CLIP role,
DINOv2's side) + the target's text. One forward and one backward pass per entry; a turn in the forward queue first
(`queued`), as every cache miss that runs a model.
"""
from __future__ import annotations

import streamlit as st

from components.service import models
from components.service.forward_slots import queued
from components.service.models import _image, _on_serving_pack
from core.analysis import relevancy_vision
from core.analysis.relevancy_vision import ClsExplanations
from core.shapes import shapes_world


def class_prompts() -> list[str]:
    """The 18 colour x shape prompts ("an orange circle"): what the bundled CLIP was trained to match."""
    return [prompt for _, prompt in shapes_world.class_prompts()]


@_on_serving_pack(role_argument=True)
@st.cache_data(show_spinner="Explaining CLS four ways (one forward and one backward pass)…", max_entries=16)
@queued
def clip_cls(pack: str, image_png: bytes, role: str = "clip", caption: str | None = None) -> ClsExplanations:
    """y = the logit of the best class prompt (caption None: a shapes scene, or the bundled CLIP on anything), else
    of the caption (a photo with a hub CLIP; the section never asks with an empty one)."""
    loaded = models.model(pack, role)
    prompts = class_prompts() if caption is None else [caption]
    return relevancy_vision.explain_clip(loaded.model, loaded.processor, _image(image_png), prompts)


DINO_SIDE = 224


@_on_serving_pack("vision")
@st.cache_data(show_spinner="Explaining DINOv2's CLS four ways (one forward and one backward pass)…", max_entries=4)
@queued
def dino_cls(pack: str, image_png: bytes) -> ClsExplanations:
    """y = the final CLS vector's norm (relevancy_vision's module doc says why), always at DINO_SIDE px: at 448 px
    the maps and gradients of 12 layers x 6 heads x 1025 x 1025 raised the server's peak by ~1.7 GB, and each
    cached entry would hold over 0.5 GB."""
    loaded = models.model(pack, "vision")
    return relevancy_vision.explain_dino(loaded.model, loaded.processor, _image(image_png), DINO_SIDE)
