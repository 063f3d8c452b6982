"""Cross-attention: grounding measured on held-out shapes scenes (does the shape word look at its object?), against
chance and against the question's other words, with the 95% interval that n scenes allow."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.grounding_frame import grounding_frame
from components.service import models
from core.analysis.intervals import interval, range_with_interval


def grounding_section(pack: str) -> None:
    """Only the bundled pack has the shapes world; off until asked."""
    if pack != "bundled" or not st.toggle("Measure grounding on held-out shapes scenes", key="cross_grounding",
                                          help="About 5 s the first time; cached afterwards."):
        return
    table = models.grounding_table(pack)
    n = table.scenes
    st.markdown(
        f"In {n} held-out two-object scenes we ask *what color is the <shape>?* and check whether the "
        "shape word's cross-attention lands more on the named object than on the other one. Nobody trained the "
        "attention to do this. Two bars to beat: **chance (50%)**, and the question's **other words** (*what*, "
        "*color*, *is*, *the*), which self-attention has already mixed the shape word into."
    )
    naming, most, baseline = st.columns(3)
    naming.dataframe(grounding_frame(table.naming_word), key="grounding_naming")
    naming.caption("The naming word (e.g. *circle*), per layer and head.")
    most.dataframe(grounding_frame(table.most_object_token), key="grounding_most")
    most.caption("Whichever question token puts the most attention on the two objects.")
    baseline.dataframe(grounding_frame(table.other_tokens, highlight_best=False), key="grounding_baseline")
    baseline.caption("Baseline: the other question words, each scored per scene, averaged over them.")
    best = float(np.max(table.naming_word))
    low, high = interval(best, n)
    naming_0, other_0 = table.naming_word[0, -1], table.other_tokens[0, -1]
    edge = ("the naming word's edge is the gap between them, not the distance from 50%" if naming_0 > other_0 else
            "the naming word does not beat them: self-attention has already mixed the shape word into the other "
            "words, and the question as a whole, not that one word, points at the object")
    st.caption(
        f"Chance {table.chance:.0%}. Baseline at layer 0 (head mean): the other words ground the named object in "
        f"{other_0:.0%} of scenes, the naming word in {naming_0:.0%}; {edge}. Every cell is a share of n={n} "
        f"scenes, so it is uncertain: with n={n} a cell of {best:.0%} means {range_with_interval(best, n)} "
        f"(95% Wilson interval, about ±{(high - low) / 2 * 100:.0f} points)."
    )
