"""Cached results of the explanation-method comparison (core.analysis.relevancy and core.analysis.deletion).

Keyed like components/service/models.py: pack (resolved by `_on_serving_pack` first) + image bytes + question, and
for the curves also the view that picks the maps (layer, head, token). The explanations come from one
grad-enabled forward; the curves cost ~100 forwards of BLIP, batched, so they sit behind a toggle.
"""
from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from components.service import models
from components.service.forward_slots import forwards
from components.service.models import _image, _on_serving_pack
from core.analysis import deletion, relevancy
from core.attention.patch_grid import PatchGrid
from core.inputs import images


@_on_serving_pack("vqa")
@st.cache_data(show_spinner="Explaining the answer four ways (one forward and one backward pass)…", max_entries=16)
def explanations(pack: str, image_png: bytes, question: str) -> relevancy.Explanations:
    answer = models.ask(pack, image_png, question).answer  # cached inputs first, then the turn (models.ask)
    with forwards().turn():
        loaded = models.model(pack, "vqa")
        return relevancy.explain(loaded.model, loaded.processor, _image(image_png), question, answer)


def object_coverage(image_name: str, question: str, patches: PatchGrid) -> np.ndarray | None:
    """(N,) how much of each patch the object the question names covers, on a shapes sample; None on a photo. The
    64 px mask is resized (nearest) to the model's image first, so grids that do not divide 64 work too."""
    scene = images.sample_scene(image_name)
    if scene is None:
        return None
    mask = deletion.named_object_mask(scene, question)
    height, width = patches.image.shape[:2]
    resized = np.asarray(Image.fromarray(mask).resize((width, height), Image.Resampling.NEAREST))
    return patches.coverage(resized).ravel()


@_on_serving_pack("vqa")
@st.cache_data(show_spinner="Hiding patches in each method's order and asking again…", max_entries=16)
def faithfulness_curves(pack: str, image_png: bytes, question: str, image_name: str, layer, head,
                        token: int) -> deletion.Faithfulness:
    asked = models.ask(pack, image_png, question)
    maps = explanations(pack, image_png, question).maps(layer, head)
    scores = {method: values[token] for method, values in maps.items()}
    with forwards().turn():
        loaded = models.model(pack, "vqa")
        return deletion.curves(loaded.model, loaded.processor, asked.patches, question, asked.answer, scores,
                               object_coverage(image_name, question, asked.patches))
