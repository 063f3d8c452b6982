"""Listening: the token x frame cross-attention drawn under the spectrogram, one decoding step at a time."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.speech import attention_over_time, spectrogram_attention
from components.widgets.export import chart_config
from core.concepts.listening import Listening
from core.inputs.speech_samples import SpeechSample


def spectrogram_section(heard: Listening, matrix: np.ndarray, what: str, token: int, key: str,
                        sample: SpeechSample | None) -> None:
    """matrix: (S, frames), the attention chosen above (one layer and head, or the timing heads' mean)."""
    n = len(heard.tokens)
    step = st.slider("Decoding step: the tokens written so far", 1, n, n, key=f"{key}_step") if n > 1 else 1
    st.caption("So far: " + "".join(heard.tokens[:step]).strip() + (" …" if step < n else ""))
    shown = min(token, step - 1)
    st.plotly_chart(spectrogram_attention(heard.log_mel, matrix[:step], heard.tokens[:step],
                                          frame_seconds=heard.frame_seconds, token=shown),
                    key="listen_spectrogram", config=chart_config(f"listening_{what}"))
    word = next((w for w in heard.words if w.token_span[0] <= shown < w.token_span[1]), None)
    truth = None
    if sample and sample.words and word is not None and len(sample.words) == len(heard.words):
        true_word = sample.words[heard.words.index(word)]
        truth = (true_word.start, true_word.end)
    st.plotly_chart(attention_over_time(matrix[shown], heard.frame_seconds, true_span=truth,
                                        predicted_span=(word.start, word.end) if word else None,
                                        token=heard.tokens[shown]), key="listen_token_time")
    st.caption(f"Rows: the decoder's text tokens (queries); columns: the {heard.frames} encoder frames of "
               f"{heard.frame_seconds * 1000:.0f} ms (keys and values). Each row is a softmax over the whole 30 s "
               "window, so what is missing from a row went to the silence Whisper pads the clip with.")
