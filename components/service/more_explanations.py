"""Cached results of the explanation-method comparison on the caption, early-fusion and listening views
(core/analysis/relevancy_caption.py, relevancy_fusion.py, relevancy_listening.py).

Keyed like components/service/models.py: the serving pack + the input's bytes + text, and for the caption and the
transcript the word explained (each word is its own target, so its own backward pass). ViLT's target is the answer,
one pass for every question token. Cached inputs are taken first, then a turn in the forward queue (models.py's
rule: a turn is never held while waiting on another cache).
"""
from __future__ import annotations

import streamlit as st

from components.service import models
from components.service.forward_slots import forwards, queued
from components.service.models import _image, _on_serving_pack
from core.analysis import relevancy_caption, relevancy_fusion, relevancy_listening
from core.analysis.relevancy import Explanations
from core.inputs import audio as audio_in


@_on_serving_pack("caption")
@st.cache_data(show_spinner="Explaining this caption word four ways (one forward and one backward pass)…",
               max_entries=32)
def caption_word(pack: str, image_png: bytes, step: int) -> Explanations:
    written = models.caption(pack, image_png)  # cached first, then the turn
    with forwards().turn():
        loaded = models.model(pack, "caption")
        ids = loaded.processor.tokenizer.convert_tokens_to_ids(written.words)
        return relevancy_caption.explain_word(loaded.model, loaded.processor, _image(image_png), ids, step)


@_on_serving_pack("fusion")
@st.cache_data(show_spinner="Explaining ViLT's answer four ways (one forward and one backward pass)…", max_entries=16)
@queued
def fusion(pack: str, image_png: bytes, question: str) -> relevancy_fusion.FusionExplanations:
    loaded = models.model(pack, "fusion")
    return relevancy_fusion.explain(loaded.model, loaded.processor, _image(image_png), question)


@_on_serving_pack(role_argument=True)
@st.cache_data(show_spinner="Explaining this token four ways (one forward and one backward pass)…", max_entries=32)
def listening_token(pack: str, wav: bytes, role: str, token: int) -> Explanations:
    heard = models.listen(pack, wav, role)  # cached first, then the turn
    with forwards().turn():
        loaded = models.model(pack, role)
        sound = audio_in.load_audio(wav, "clip.wav")
        return relevancy_listening.explain_token(loaded.model, loaded.processor, sound.samples, heard.decoder_ids,
                                                 len(heard.prompt_tokens), token, heard.frames)
