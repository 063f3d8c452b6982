"""The Streamlit side of model loading and per-input results.

Models: one copy per process shared by every session (so: eval mode, never mutated), kept in a least-recently-used
budget of weight bytes ($MMA_MODEL_BUDGET_MB, default 1600) so a free Community Cloud app never holds all four
full-size models at once; loaded lazily, on a page's first use.
Results: `st.cache_data` keyed by pack + image bytes + text, so a widget that only changes the view (layer, head,
token) reruns the page script but never the model.
Forwards: a cache miss takes a turn in the process's forward queue (components/service/forward_slots.py) before it
runs a model, and the page shows its place in the line while it waits. Rule: a turn is never held while calling
another cached function (that call may wait on a cache lock held by a thread that is waiting for a turn): take
cached inputs first, then the turn (`ask`, `masking_test`).
"""
from __future__ import annotations

import dataclasses
import functools
import os
import time
from functools import lru_cache

import numpy as np
import streamlit as st

from components.service.forward_slots import forwards, position_shown, queued
from core.analysis import cost, faithfulness, grounding
from core.attention import qkv_math, select
from core.attention.patch_grid import PatchGrid
from core.concepts import captioning, cross_attention, early_fusion, fusion_designs, listening, patching
from core.concepts import listening_math as listening_math_
from core.inputs import audio as audio_in
from core.inputs import images
from core.models import registry
from core.models.model_budget import DEFAULT_BUDGET_MB, ModelBudget, release_memory
from core.shapes import held_out

BUDGET_ENV = "MMA_MODEL_BUDGET_MB"  # megabytes of model weights kept in memory; least recently used out first


@st.cache_resource(show_spinner=False)
def pack_choice() -> registry.PackChoice:
    """Decided once per server process: probing the hub costs up to a few seconds."""
    return registry.choose_pack()


@st.cache_resource(show_spinner=False)
def loaded_models() -> ModelBudget:
    """The process's models, shared by every session. Not one st.cache_resource entry per model: that evicts by
    count, and two full-size models can already overflow a free Community Cloud app (2.7 GB)."""
    return ModelBudget(int(float(os.environ.get(BUDGET_ENV, DEFAULT_BUDGET_MB)) * 2**20))


def _load(pack: str, role: str) -> registry.LoadedModel:
    return loaded_models().get((pack, role), lambda: registry.load(pack, role))


HUB_RETRY_S = 300  # after a failed hub load, serve the bundled model for this long before trying the hub again
_HUB_FAILURES: dict[str, tuple[float, str]] = {}  # role -> (when, why, in words); process-wide
NOTICES = "_fallback_notices"  # session_state: the hub models this page view has already said it replaced


class HubLoadFailed(RuntimeError):
    """A hub model that looked loadable failed to load. app.py reruns the page once; the failure is remembered,
    so that run serves the bundled model and says why."""


def begin_page_view() -> None:
    """Called by app.py before each run of a page: its fallback notices start over (one per model per view), and a
    result's cost reads "computed now" only if this run computed it (core.analysis.cost.computed_now)."""
    st.session_state[NOTICES] = set()
    cost.begin_run()


def _announce(role: str, why: str) -> None:
    label = registry.spec("hub", role).label
    shown = st.session_state.setdefault(NOTICES, set())
    if label in shown:
        return
    shown.add(label)
    stand_in = registry.spec("bundled", role)
    instead = (f"the same kind of model's real weights installed with the app instead: **{stand_in.label}** "
               f"({stand_in.provenance})" if stand_in.provenance else
               "the bundled tiny model instead (trained on the shapes world: on photos its answers are guesses)")
    st.warning(f"The hub's **{label}** cannot be used: {why}. This page shows {instead}.")


def serving_pack(pack: str, *roles: str) -> str:
    """The pack that serves these roles now: the hub when each of its checkpoints can be had (on disk, or the hub
    answers) and has not just failed, else bundled, announced once per page view. Decided before any cached
    result is looked up, so a result cached under "hub" is always the hub model's."""
    if pack != "hub":
        return pack
    for role in roles:
        failed = _HUB_FAILURES.get(role)
        recent = failed and time.monotonic() - failed[0] < HUB_RETRY_S
        why = failed[1] if recent else registry.hub_unavailable(role)
        if why:
            _announce(role, why)
            return "bundled"
    return "hub"


def _on_serving_pack(*roles: str, role_argument: bool = False):
    """Wrap a cached result function whose first argument is the pack: look the result up under the pack that
    really serves `roles` (or the role passed as the third argument, `role_argument`)."""
    def wrap(cached):
        @functools.wraps(cached)
        def call(pack: str, *args, **kwargs):
            needed = (kwargs.get("role", args[1] if len(args) > 1 else "clip"),) if role_argument else roles
            with position_shown():  # "2 questions ahead of yours" while this call's forward waits for its turn
                return cached(serving_pack(pack, *needed), *args, **kwargs)
        if hasattr(cached, "clear"):  # st.cache_* functions: tests and the benchmark empty them
            call.clear = cached.clear
        return call
    return wrap


def model(pack: str, role: str) -> registry.LoadedModel:
    """The model for a role, loaded once per process (callers resolve the pack with `serving_pack` first). A hub
    load that fails is remembered for HUB_RETRY_S and raised as HubLoadFailed."""
    label = registry.spec(pack, role).label
    with st.spinner(f"Loading {label} (first use only)…"):
        try:
            return _load(pack, role)
        except Exception as error:  # noqa: BLE001 - any hub failure means "use the bundled model"
            if pack == "bundled":
                raise
            detail = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            _HUB_FAILURES[role] = (time.monotonic(), f"loading it from this server's model cache failed ({detail})")
            raise HubLoadFailed(role) from error


@lru_cache(maxsize=8)  # several results per input (ask and the math panel's encoding): decode the PNG once
def _image(image_png: bytes):
    return images.load_image(image_png)


def image_size(image_png: bytes) -> tuple[int, int]:
    """(width, height) of the image the pages run on."""
    return _image(image_png).size


def _read_only(result):
    """A result shared by every session without a copy: its arrays, and the arrays they are views of, are made
    read-only, so a page that tried to change one in place would fail loudly instead of changing it for everyone
    (and components/figures/value_cache.py hashes each of them once)."""
    for value in vars(result).values():
        if isinstance(value, PatchGrid):
            value = value.image
        while isinstance(value, np.ndarray):
            value.setflags(write=False)
            value = value.base
    return result


def _costed(result, seconds: float, model_, shapes: tuple, recompute, text_tokens: int, media_tokens: int,
            media: str = "image tokens", detail: str = ""):
    """The result with its Cost: `seconds` timed around its forward here, FLOPs and attention weights counted by
    running `recompute` under the counters the first time these shapes meet this model (core.analysis.cost)."""
    count = cost.counted(model_, shapes, recompute)
    return dataclasses.replace(result, cost=cost.measured(text_tokens, media_tokens, media, count, seconds, detail))


def _vision_costed(view: patching.PatchView, seconds: float, model_, recompute) -> patching.PatchView:
    tokens = view.attentions.shape[-1]  # 1 + N: CLS, then the patches
    return _costed(view, seconds, model_, ("patch view", tokens), recompute, 0, tokens,
                   detail=f"{view.n_patches} patches + CLS")


# Results of tens of MB (ViLT's (12, 12, S, S) attentions: 24 MB at S = 203; CLIP B/16's: 22 MB) are cached with
# st.cache_resource, same keys, instead of st.cache_data: cache_data unpickles a fresh copy on every rerun, which
# cost a layer or head change ~30 ms on the early-fusion page.
@_on_serving_pack(role_argument=True)
@st.cache_resource(show_spinner="Running the vision tower…", max_entries=16)
@queued
def patch_view(pack: str, image_png: bytes, role: str = "clip") -> patching.PatchView:
    loaded, image = model(pack, role), _image(image_png)

    def forward():
        return patching.patch_view(loaded.model, loaded.processor, image)
    return _read_only(_vision_costed(*cost.timed(forward), loaded.model, forward))


@queued
def _photo_view(pack: str, image_png: bytes, side: int) -> patching.PatchView:
    loaded, image = model(pack, "vision"), _image(image_png)

    def forward():
        return patching.photo_patch_view(loaded.model, loaded.processor, image, side)
    view = _read_only(_vision_costed(*cost.timed(forward), loaded.model, forward))
    if side > 224:  # the forward's temporaries: hundreds of MB at 448 px, else kept by the allocator. Not at 224 px
        release_memory()  # (tens of MB), where the trim itself took 180 ms, twice the forward
    return view


# DINOv2's view holds (12, 6, 1 + N, 1 + N) fp32 attentions: 19 MB at 224 px, 288 MB at 448 px. So 448 px has
# its own cache of one entry (bench/memory.py: three cached 448 views took the five-page peak over 2.5 GB).
@_on_serving_pack("vision")
@st.cache_resource(show_spinner="Running DINOv2…", max_entries=4)
def _photo_view_224(pack: str, image_png: bytes) -> patching.PatchView:
    return _photo_view(pack, image_png, 224)


@_on_serving_pack("vision")
@st.cache_resource(show_spinner="Running DINOv2 at 448 px (32 x 32 patches)…", max_entries=1)
def _photo_view_448(pack: str, image_png: bytes) -> patching.PatchView:
    return _photo_view(pack, image_png, 448)


def photo_view(pack: str, image_png: bytes, side: int = 224) -> patching.PatchView:
    if side not in (224, 448):
        raise ValueError(f"DINOv2 runs at 224 or 448 px here, not {side}")
    return (_photo_view_224 if side == 224 else _photo_view_448)(pack, image_png)


def vision_view(pack: str, image_png: bytes, role: str, side: int = 224) -> patching.PatchView:
    """The Patching page's view from the chosen vision model: DINOv2 ("vision") at `side` px, or a CLIP tower.

    Choosing anything but 448 px drops the cached 448 px view (288 MB of attentions): the next model's load then
    never stacks on it (bench/memory.py: 2543 MB peak when it stayed through cross-attention). Done here, in the
    page's own call and outside every cached function: clearing it from inside model(), which cached results call,
    hung the page (the real-browser walk, CI of f875457)."""
    if role != "vision" or side != 448:
        _photo_view_448.clear()
    return photo_view(pack, image_png, side) if role == "vision" else patch_view(pack, image_png, role)


@st.cache_resource(show_spinner="Listening: transcribing, then reading the cross-attention…", max_entries=2)
@queued
def _heard(pack: str, wav: bytes, role: str) -> tuple[listening.Listening, listening_math_.DecoderReading]:
    """One model pass per clip for the whole page: the transcript, its cross-attention and word times, and the
    decoder reading the math panel recomputes from (listening_math.listen_and_read: the transcription's own last
    forward, not a second encoder + decoder run). Shared read-only; two entries, as the reading of a 30 s clip is
    tens of MB (its (layers, heads, tokens, 1500) weights)."""
    loaded = model(pack, role)
    sound = audio_in.load_audio(wav, "clip.wav")

    def forward():
        return listening_math_.listen_and_read(loaded.model, loaded.processor, sound.samples,
                                               model_label=loaded.spec.label)
    (heard, reading), seconds = cost.timed(forward)
    frames = loaded.model.config.max_source_positions  # the encoder reads the whole 30 s window: 1500 frames
    heard = _costed(heard, seconds, loaded.model, ("listen", len(heard.decoder_ids)), forward,
                    len(heard.decoder_ids), frames, "audio frames",
                    detail=f"the 30 s window; the clip fills {heard.frames}")  # text: prompt + transcript + end
    return _read_only(heard), _read_only(reading)


@_on_serving_pack(role_argument=True)
@st.cache_data(show_spinner=False, max_entries=32)
def listen(pack: str, wav: bytes, role: str = "listen") -> listening.Listening:
    """A clip (mono 16 kHz wav bytes) heard by the role's Whisper: transcript, cross-attention, word times."""
    return _heard(pack, wav, role)[0]


@_on_serving_pack(role_argument=True)
@st.cache_data(show_spinner=False, max_entries=32)
def listening_math(pack: str, wav: bytes, role: str, ids: tuple[int, ...], layer: int, head: int, row: int,
                   frame: int) -> listening_math_.ListeningMath:
    """One token and frame's weight recomputed from the clip's decoder reading (`_heard`: no model run of its own
    when the page has just listened); a new layer, head, word or frame is numpy only."""
    reading = _heard(pack, wav, role)[1]
    if reading.ids != tuple(ids):  # other decoder inputs than the transcript's: read them
        loaded = model(pack, role)
        reading = listening_math_.read_decoder(loaded.model, loaded.processor,
                                               audio_in.load_audio(wav, "clip.wav").samples, list(ids))
    return listening_math_.math_from(model(pack, role).model, reading, layer, head, row, frame)


def live_weights(pack: str, role: str) -> str:
    """The sidebar's words on which weights serve `role` on this page now, with provenance for real offline ones."""
    s = registry.spec(serving_pack(pack, role), role)
    return f"**{s.label}**" + (f": {s.provenance}" if s.provenance else "")


@_on_serving_pack("vqa")
@st.cache_resource(show_spinner="Asking the question…", max_entries=64)  # shared, read-only: see patch_view
def ask(pack: str, image_png: bytes, question: str) -> cross_attention.CrossAttentionResult:
    encoding, encode_s = _question_encoding(pack, image_png, question)  # the math panel's forward: reused here
    with forwards().turn():  # after the cached call above: a turn is never held while waiting on a cache's lock
        loaded, image = model(pack, "vqa"), _image(image_png)
        result, answer_s = cost.timed(lambda: cross_attention.ask(loaded.model, loaded.processor, image, question,
                                                                  encoded=encoding))
        n_image = result.cross_attentions.shape[-1]  # 1 + N
        return _read_only(_costed(result, encode_s + answer_s, loaded.model,
                                  ("ask", len(result.tokens), len(result.answer_tokens), n_image),
                                  lambda: cross_attention.ask(loaded.model, loaded.processor, image, question),
                                  len(result.tokens), n_image, detail=f"{result.patches.n_patches} patches + CLS"))


@_on_serving_pack("vqa")
@st.cache_data(show_spinner="Hiding patches and asking again…", max_entries=64)
def masking_test(pack: str, image_png: bytes, question: str, layer, head, token: int,
                 k: int) -> faithfulness.MaskingResult:
    result = ask(pack, image_png, question)  # cached: before taking a turn (see ask)
    row = select(result.token_patch_matrix, layer, head)[token]  # (N,)
    with forwards().turn():
        loaded = model(pack, "vqa")
        return faithfulness.masking_test(loaded.model, loaded.processor, result.patches, question, result.answer,
                                         row, k)


@_on_serving_pack("clip", "vqa", "fusion")
@st.cache_data(show_spinner="Running CLIP, BLIP and ViLT on the same input…", max_entries=16)
@queued
def fusion_designs_compare(pack: str, image_png: bytes, text: str) -> list[fusion_designs.DesignCost]:
    image = _image(image_png)  # one model at a time, so the memory budget may evict the one before
    return [fusion_designs.late_fusion(model(pack, "clip"), image, text),
            fusion_designs.cross_attention_fusion(model(pack, "vqa"), image, text),
            fusion_designs.early_fusion(model(pack, "fusion"), image, text)]


@_on_serving_pack("caption")
@st.cache_data(show_spinner="Writing a caption…", max_entries=64)
@queued
def caption(pack: str, image_png: bytes) -> captioning.CaptionResult:
    loaded, image = model(pack, "caption"), _image(image_png)

    def forward():
        return captioning.caption(loaded.model, loaded.processor, image)
    result, seconds = cost.timed(forward)
    steps, n_image = result.cross_attentions.shape[-2:]  # the words written, 1 + N
    return _costed(result, seconds, loaded.model, ("caption", steps, n_image), forward, steps, n_image,
                   detail=f"{result.patches.n_patches} patches + CLS; text tokens: the words written")


@st.cache_data(show_spinner="Running the question encoder…", max_entries=64)
@queued
def _question_encoding(pack: str, image_png: bytes, question: str) -> tuple[qkv_math.QuestionEncoding, float]:
    """The encoding and the seconds its forward took (part of the answer's cost)."""
    loaded, image = model(pack, "vqa"), _image(image_png)
    return cost.timed(lambda: qkv_math.encode(loaded.model, loaded.processor, image, question))


@_on_serving_pack("vqa")
@st.cache_resource(show_spinner=False, max_entries=64)  # shared, read-only: see patch_view
def cross_attention_math(pack: str, image_png: bytes, question: str, layer: int, head: int,
                         token: int) -> qkv_math.CrossAttentionMath:
    """One model forward per question (cached); a new layer/head/token only redoes the numpy and one block, and
    a view already shown costs nothing."""
    return _read_only(qkv_math.math_from_encoding(model(pack, "vqa").model,
                                                  _question_encoding(pack, image_png, question)[0], layer, head, token))


@_on_serving_pack("vqa")
@st.cache_data(show_spinner="Measuring grounding on 100 held-out scenes…", max_entries=2)
@queued
def grounding_table(pack: str) -> grounding.GroundingTable:
    loaded = model(pack, "vqa")
    return grounding.grounding_table(loaded.model, loaded.processor, held_out.test_seeds(100))


@_on_serving_pack("fusion")
@st.cache_resource(show_spinner="Running the joint stream…", max_entries=16)  # shared, read-only: see patch_view
@queued
def fuse(pack: str, image_png: bytes, question: str) -> early_fusion.FusionResult:
    loaded, image = model(pack, "fusion"), _image(image_png)

    def forward():
        return early_fusion.fuse(loaded.model, loaded.processor, image, question)
    result, seconds = cost.timed(forward)
    return _read_only(_costed(result, seconds, loaded.model, ("fuse", result.attentions.shape[-1], result.n_text),
                              forward, result.n_text, result.n_image,
                              detail=f"{result.n_image - 1} patches + CLS, in one stream with the text"))
