"""Listening: the transcript, its words on the waveform, and a word played from where cross-attention puts it."""
from __future__ import annotations

import streamlit as st

from components.figures.speech import waveform_words
from components.widgets.audio_input import Sound
from core.concepts.listening import Listening
from core.inputs.text_limits import escape_markdown


def transcript_section(heard: Listening, sound: Sound, key: str) -> int:
    """Shows the transcript and a word picker; returns the chosen word's index (0 when there are no words)."""
    st.subheader(f"Transcript: “{escape_markdown(heard.text.strip()) or '(nothing heard)'}”")
    if not heard.words:
        st.info("Whisper heard no words in this sound.")
        return 0
    word = st.segmented_control("Word", range(len(heard.words)), default=0, key=f"{key}_word",
                                format_func=lambda i: heard.words[i].word) or 0
    chosen = heard.words[word]
    spans = [(w.word, w.start, w.end) for w in heard.words]
    st.plotly_chart(waveform_words(sound.audio.samples, sound.audio.rate, spans, highlight=word),
                    key="listen_waveform")
    left, right = st.columns([1, 2])
    left.audio(sound.wav, format="audio/wav", start_time=chosen.start)
    right.caption(f"“{escape_markdown(chosen.word)}”: {chosen.start:.2f}–{chosen.end:.2f} s, where the "
                  "cross-attention of its tokens walks along the sound (dynamic time warping over the timing heads, "
                  "as Whisper does), its edges moved onto the sound it spans. The player starts there.")
    return word
