"""The answer area: the model's answer, and, right under it, whether to believe it.

For the bundled pack the image is checked against the shapes world the tiny models were trained on
(core/shapes/in_domain.py); off that world the answer is headed "Answer (a guess):" with the measured reason. For
any pack, when the answer's attention map is nearly uniform (core/attention/uniformity.py) a note says so: the
heatmaps below stretch their colours from the map's min to its max, which makes a small spread look like structure.
"""
from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import streamlit as st
from PIL import Image

from core.attention.uniformity import nearly_uniform, uniformity
from core.concepts.cross_attention import naming_token
from core.inputs.text_limits import escape_markdown
from core.shapes.in_domain import DomainCheck, measure


@lru_cache(maxsize=32)  # a few ms per image, but the page reruns on every widget change
def domain_check(image_png: bytes) -> DomainCheck:
    with Image.open(io.BytesIO(image_png)) as image:
        return measure(image)


def answer_heading(answer: str, check: DomainCheck | None) -> str:
    """ "Answer: red" in domain (or with no check); "Answer (a guess): three" off the shapes world."""
    return f"Answer{'' if check is None or check.in_domain else ' (a guess)'}: {answer}"


def answer_section(answer: str, probability: float | None, image_png: bytes, pack: str,
                   attention_map: np.ndarray | None = None, *, tokens: list[str] | None = None,
                   question: str | None = None) -> None:
    """attention_map: (Q, N) the question tokens' attention on the patches in the last layer, heads averaged (the
    note says so), rows named by `tokens`, of which the naming word's row is read; or one (N,) map, tokens None.
    question: when given, a caption repeats it with the answer's probability."""
    check = domain_check(image_png) if pack == "bundled" else None  # the hub's real models: no shapes world
    st.subheader(answer_heading(answer, check))
    if question is not None:
        shown = "" if probability is None else f" · answer probability {probability:.1%}"
        st.caption(f"Question: “{escape_markdown(question)}”{shown}")
    if check is not None and not check.in_domain:
        score = "" if probability is None else f" Its {probability:.0%} only ranks the answers it knows; it is not " \
                                                "a chance of being right here."
        st.warning(f"**Out of its depth.** The bundled models only ever saw the shapes world, and this image does not "
                   f"look like it: {check.reason}. The model answers anyway, from the words and colours it "
                   f"knows.{score}")
    if attention_map is not None:
        _uniformity_note(attention_map, tokens)


def _uniformity_note(attention_map: np.ndarray, tokens: list[str] | None) -> None:
    row = naming_token(tokens) if tokens is not None else None
    single = np.asarray(attention_map)[row] if row is not None else np.asarray(attention_map)  # (N,) or (rows, cols)
    if not nearly_uniform(single):
        return
    whose = f"“{escape_markdown(tokens[row])}”'s" if row is not None else "The answer's"
    st.info(f"Attention is nearly uniform here: {whose} attention on the patches (last layer, heads averaged) has "
            f"max/min = {uniformity(single):.2f}, from {single.min():.4f} to {single.max():.4f}. The heatmaps stretch "
            "their colours from a map's min to its max, so a spread this small still looks like structure.")
