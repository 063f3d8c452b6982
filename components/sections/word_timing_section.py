"""Listening: ground truth for speech. On clips made word by word the true word times are known, so the word
times read from cross-attention can be checked, as the shapes world checks where image attention lands."""
from __future__ import annotations

import streamlit as st

from core.analysis.speech_alignment import compare_word_timings
from core.concepts.listening import Listening
from core.inputs.speech_samples import SpeechSample


def word_timing_section(heard: Listening, sample: SpeechSample | None) -> None:
    st.header("Word times: checked against the truth")
    if sample is None or not sample.words:
        st.caption("Pick a sample made word by word (its title says “known times”) to compare each word's span "
                   "with when it was really spoken.")
        st.dataframe([{"word": w.word, "start (s)": round(w.start, 2), "end (s)": round(w.end, 2)}
                      for w in heard.words], key="listen_words")
        return
    report = compare_word_timings([(w.word, w.start, w.end) for w in sample.words],
                                  [(w.word, w.start, w.end) for w in heard.words])
    st.dataframe(report.table(), key="listen_word_truth")
    st.markdown(f"**{report.n_hits} of {report.n_paired}** true word centres fall inside the span cross-attention "
                f"gives the word; mean onset error **{report.mean_abs_onset_error:.2f} s** ({heard.model_label}).")
    st.caption(report.summary())
