"""The Listening page's sound: a sample clip (with its true word times when it was made word by word), an upload,
or the microphone. Whatever comes in is decoded once to mono 16 kHz, and the page says what was converted."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.inputs import audio as audio_in
from core.inputs.speech_samples import SpeechSample, load_samples
from core.inputs.text_limits import escape_markdown

UPLOAD, MICROPHONE = "Upload a sound file", "Record with the microphone"


@dataclass(frozen=True)
class Sound:
    name: str  # the sample's name, or the upload's file name, or "microphone"
    wav: bytes  # mono 16 kHz 16-bit PCM: what the model hears, and the results' cache key
    audio: audio_in.Audio
    sample: SpeechSample | None  # a sample clip (its true word times when made word by word), else None


@st.cache_data(show_spinner="Decoding the sound…", max_entries=8)
def _decoded(data: bytes, name: str) -> tuple[audio_in.Audio, bytes]:
    sound = audio_in.load_audio(data, name)
    return sound, audio_in.to_wav_bytes(sound)


def sound_input(key: str) -> Sound:
    """The chooser and its player; stops the page with a message when there is nothing (good) to hear."""
    samples = {s.title: s for s in load_samples()}
    choice = st.selectbox("Sound", [*samples, UPLOAD, MICROPHONE], key=f"{key}_sound")
    if choice in samples:
        sample = samples[choice]
        data, name = sample.path.read_bytes(), sample.path.name
    else:
        sample = None
        if choice == UPLOAD:
            upload = st.file_uploader("A sound file (wav, mp3, ogg, flac, webm; the first 30 s are used)",
                                      key=f"{key}_upload")
        else:
            upload = st.audio_input("Say something (up to 30 s)", key=f"{key}_microphone")
        if upload is None:
            st.info("Choose a sound: a sample, a file, or the microphone.")
            st.stop()
        data, name = upload.getvalue(), getattr(upload, "name", "") or "microphone"
    try:
        sound, wav = _decoded(data, name)
    except audio_in.AudioProblem as problem:
        st.error(escape_markdown(str(problem)))
        st.stop()
    st.audio(wav, format="audio/wav")
    notes = " ".join(sound.notes)
    st.caption(escape_markdown(f"{sound.seconds:.1f} s, {sound.conversion}. {notes}".strip()))
    return Sound(sample.name if sample else name, wav, sound, sample)
