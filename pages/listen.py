import streamlit as st

from components.sections.cost_readout import cost_readout
from components.sections.explorer_section import explorer_for
from components.sections.lesson import formulas_at, lesson_intro
from components.sections.listening_explanations import listening_explanations_section
from components.sections.listening_math_section import listening_math_section
from components.sections.spectrogram_section import spectrogram_section
from components.sections.transcript_section import transcript_section
from components.sections.word_timing_section import word_timing_section
from components.service import models
from components.widgets import deep_link
from components.widgets.audio_input import sound_input
from components.widgets.inputs import current
from components.widgets.layer_head import layer_head_selectors
from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN, select
from core.classroom.page_table import page

PAGE = page("listening")
WHISPERS = {"Whisper base (multilingual, better)": "listen", "Whisper tiny.en (English, faster)": "listen_fast"}
TIMING, ONE = "The timing heads, averaged (what word times are read from)", "One layer and head"

st.title("Listening: text tokens cross-attend to sound")
lesson_intro(PAGE.name)
inputs = current()
sound = sound_input(PAGE.keys)
role = WHISPERS[st.radio("Model", list(WHISPERS), horizontal=True, key=PAGE.key("model"))]
st.sidebar.caption(f"Speech model on this page: {models.live_weights(inputs.pack, role)}")
heard = models.listen(inputs.pack, sound.wav, role)
n_layers, n_heads = heard.cross_attention.shape[:2]
linked = deep_link.apply_view(PAGE.name, [LAYER_MEAN, *range(n_layers)], [HEAD_MEAN, HEAD_MAX, *range(n_heads)],
                              n_tokens=len(heard.tokens))
if linked:  # the page picks words, a link carries a token; a link's layer or head means "one layer and head"
    st.session_state[PAGE.key("word")] = heard.word_of(st.session_state.get(PAGE.key("token"), 0))
    if linked.layer is not None or linked.head is not None:
        st.session_state[PAGE.key("which")] = ONE

word = transcript_section(heard, sound, PAGE.keys)
cost_readout(heard.cost)
if not heard.tokens:
    st.stop()

st.header("Where each token listened")
formulas_at(PAGE.name, "matrix")
which = st.radio("Attention", [TIMING, ONE], horizontal=True, key=PAGE.key("which"))
layer, head = layer_head_selectors(n_layers, n_heads, key=PAGE.keys, allow_layer_mean=True) if which == ONE else (
    None, None)
matrix = heard.alignment_mean() if which == TIMING else select(heard.cross_attention, layer, head)  # (S, frames)
token = heard.words[word].token_span[0] if heard.words else 0
spectrogram_section(heard, matrix, "timing-heads" if which == TIMING else f"layer-{layer}_head-{head}", token,
                    PAGE.keys, sound.sample)
st.caption(f"Timing heads (layer, head): {heard.timing_heads_label()}.")
listening_explanations_section(inputs.pack, sound.wav, role, heard, token, layer, head)
with st.expander("Every layer and head at a glance, in your browser: hover a token, click to pin"):
    explorer_for(heard.token_frame_maps(), key=PAGE.key("explorer"),
                 selected={"layer": n_layers - 1, "head": HEAD_MEAN, "query": token}, title="Token x frame")
deep_link.publish(layer=layer, head=head, token=token)

st.header("The math, with this model's real numbers")
math_layer, math_head = (layer, head) if isinstance(layer, int) and isinstance(head, int) else (
    heard.sharpest_timing_head(token))
loudest = int(heard.cross_attention[math_layer, math_head, token].argmax())
frame = st.slider("Audio frame (20 ms each)", 0, heard.frames - 1, loudest, key=PAGE.key("frame"))
listening_math_section(models.listening_math(inputs.pack, sound.wav, role, tuple(heard.decoder_ids), math_layer,
                                             math_head, heard.decoder_row(token), frame), heard.tokens[token])

word_timing_section(heard, sound.sample)
