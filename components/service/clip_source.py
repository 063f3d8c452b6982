"""Which CLIP the CLIP space page runs: the live pack's, or the mini-CLIP this session trained on the page.

Every result is cached with `st.cache_data` under a source key (the pack name, or "live:<run id>") plus the inputs,
so switching projection method, dimension or chosen point never re-embeds anything. The source travels as an
underscore argument (not hashed): the key alone tells two sources apart.

A pack's source holds no model, only a way to get one: the model is fetched (and loaded, if the memory budget
evicted it) only when a result is not cached yet. Holding it would keep ~600 MB of CLIP B/32 alive after the budget
evicted it (the page script's variables outlive the run), and would load CLIP on every visit even when every result
is cached.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import streamlit as st

from components.service import models
from components.service.forward_slots import queued
from core.concepts import clip_space, projections, zero_shot
from core.inputs import images
from core.shapes import held_out

LIVE_STATE = "live_clip"  # session_state key of this session's trained mini-CLIP (a LiveRun)


@dataclass(frozen=True)
class ClipSource:
    key: str  # the pack name, or "live:<run id>"
    label: str
    load: Callable[[], object]  # -> an object with .model and .processor; called only on a cache miss


@dataclass
class LiveRun:
    """A mini-CLIP trained in this session (per session, never shared: ~0.8 MB of weights)."""

    run_id: str
    model: object
    processor: object
    steps: int
    seconds: float
    zero_shot_accuracy: float  # on core.shapes.held_out's scenes
    losses: list[float]  # the loss curve as reported during training
    loss_steps: list[int]


def pack_source(pack: str) -> ClipSource:
    """The pack's CLIP, or the bundled one (announced on the page) when the hub's cannot be had."""
    pack = models.serving_pack(pack, "clip")
    return ClipSource(pack, f"the {pack} pack's CLIP", partial(models.model, pack, "clip"))


def live_source() -> ClipSource | None:
    run: LiveRun | None = st.session_state.get(LIVE_STATE)
    if run is None:
        return None
    return ClipSource(f"live:{run.run_id}", f"your mini-CLIP ({run.steps} steps, {run.seconds:.0f} s)",
                      lambda: run)  # ~0.8 MB, kept by the session anyway


@st.cache_data(show_spinner="Embedding images and captions…", max_entries=64)
@queued
def embed(key: str, named_images: tuple[tuple[str, bytes], ...], texts: tuple[str, ...],
          _source: ClipSource) -> clip_space.ClipSpace:
    loaded = _source.load()
    return clip_space.embed(loaded.model, loaded.processor, [images.load_image(png) for _, png in named_images],
                            [name for name, _ in named_images], list(texts))


@st.cache_data(show_spinner="Projecting…", max_entries=64)
def project(points: np.ndarray, method: str, dims: int) -> projections.Projection:
    """Keyed by the points themselves: a new method or dimension reuses the embeddings, never the model."""
    spinner = "Compiling UMAP (first use on this server only, ~20 s)…" if method == "UMAP" else None
    if spinner:
        with st.spinner(spinner):
            return projections.project(points, method, dims)
    return projections.project(points, method, dims)


@st.cache_data(show_spinner="Classifying with prompts…", max_entries=64)
@queued
def classify(key: str, image_embed: np.ndarray, class_names: tuple[str, ...], templates: tuple[str, ...],
             _source: ClipSource) -> zero_shot.ZeroShot:
    """image_embed: the image's row of the cached ClipSpace, so only the text tower runs for the prompts."""
    loaded = _source.load()
    return zero_shot.zero_shot_from_embedding(loaded.model, loaded.processor, image_embed, list(class_names),
                                              list(templates))


PROBE_SCENES = 100


@st.cache_data(show_spinner="Scoring the probe on held-out shapes scenes…", max_entries=8)
@queued
def patch_probe_score(key: str, _source: ClipSource) -> float:
    """How often the text -> patch probe prefers the named object over the other one (chance 0.5)."""
    loaded = _source.load()
    return held_out.patch_probe_grounding(loaded.model, loaded.processor, held_out.test_seeds(PROBE_SCENES))


@st.cache_data(show_spinner="Zero-shot on held-out shapes scenes, with and without centring…", max_entries=8)
@queued
def zero_shot_centring(key: str, _source: ClipSource) -> tuple[float, float, int]:
    """(accuracy, accuracy with each modality centred, scenes) on the held-out one-object scenes."""
    loaded = _source.load()
    return held_out.clip_zero_shot_centring(loaded.model, loaded.processor, held_out.test_seeds(PROBE_SCENES))
