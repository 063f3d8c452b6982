"""Cached results of the explanation-method comparison (core.analysis.relevancy and core.analysis.deletion).

Keyed like components/service/models.py: pack (resolved by `_on_serving_pack` first) + image bytes + question, and
for the curves also the view that picks the maps (layer, head, token). The explanations come from one
grad-enabled forward; the curves cost ~100 forwards of BLIP, batched, so they sit behind a toggle. The held-out
tables (which method is most faithful per model; the masking controls) are keyed by pack, model role and n only.
"""
from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from components.service import models
from components.service.forward_slots import forwards, position_shown, queued
from components.service.models import _image, _on_serving_pack
from core.analysis import deletion, faithfulness, faithfulness_table, relevancy
from core.attention.patch_grid import PatchGrid
from core.inputs import images
from core.shapes import held_out


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


# Held-out faithfulness (the shapes world only: the bundled pack). Each costs one explanation + ~86 batched
# forwards per scene; measured here on 2 shared, busy cores: 15-28 s per model for 100 scenes, 45-85 s for 300
# (one torch thread: deletion.THREADS). Cached for every session, so only the first student to ask waits.
TABLE_SCENES = (100, 300)  # the page's choice of n; 300 is what `python -m core.evaluate` prints (same seeds)
MASKING_SCENES = 300  # 3 k x 300 scenes took 27 s here: ~9 s per k


@st.cache_data(show_spinner="Hiding patches in every method's order on held-out scenes (15-30 s per 100 scenes per "
                            "model, first time only)…", max_entries=8)
@queued
def _held_out_faithfulness(pack: str, role: str, scenes: int) -> faithfulness_table.FaithfulnessTable:
    loaded = models.model(pack, role)
    return faithfulness_table.faithfulness_table(role, loaded.model, loaded.processor, held_out.test_seeds(scenes))


def held_out_faithfulness(pack: str, role: str, scenes: int) -> faithfulness_table.FaithfulnessTable:
    """faithfulness_table.faithfulness_table for one role ("vqa", "fusion") on the first `scenes` held-out seeds."""
    with position_shown():
        return _held_out_faithfulness(models.serving_pack(pack, role), role, scenes)


@st.cache_data(show_spinner="Hiding k patches four ways on held-out scenes…", max_entries=16)
@queued
def _masking_controls(pack: str, k: int, scenes: int) -> faithfulness.MaskingSummary:
    loaded = models.model(pack, "vqa")
    return faithfulness.masking_summary(loaded.model, loaded.processor, held_out.test_seeds(scenes), k)


def masking_controls(pack: str, k: int, scenes: int = MASKING_SCENES) -> faithfulness.MaskingSummary:
    """faithfulness.masking_summary (top-k attended, random, the named object's, the other object's patches)."""
    with position_shown():
        return _masking_controls(models.serving_pack(pack, "vqa"), k, scenes)
