"""Cross-attention: grounding measured on held-out shapes scenes (does the shape word look at its object?)."""
from __future__ import annotations

import streamlit as st

from components.figures.grounding_frame import grounding_frame
from components.service import models


def grounding_section(pack: str) -> None:
    """Only the bundled pack has the shapes world; off until asked."""
    if pack != "bundled" or not st.toggle("Measure grounding on held-out shapes scenes", key="cross_grounding",
                                          help="About 5 s the first time; cached afterwards."):
        return
    table = models.grounding_table(pack)
    st.markdown(
        f"In {table.scenes} held-out two-object scenes we ask *what color is the <shape>?* and check whether the "
        "shape word's cross-attention lands more on the named object than on the other one (**chance: 50%**). "
        "Nobody trained the attention to do this."
    )
    left, right = st.columns(2)
    left.dataframe(grounding_frame(table.naming_word), key="grounding_naming")
    left.caption("The naming word (e.g. *circle*), per layer and head.")
    right.dataframe(grounding_frame(table.most_object_token), key="grounding_most")
    right.caption("Whichever question token puts the most attention on the two objects.")
