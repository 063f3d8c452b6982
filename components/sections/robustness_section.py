"""How robust the bundled models are off the grey canvas: the held-out shift table, with n and 95% intervals."""
from __future__ import annotations

import streamlit as st

from components.service import robustness
from core.analysis.intervals import interval
from core.shapes import held_out, shapes_world

MODELS = {"clip": "CLIP (zero-shot, 18 classes)", "vqa": "BLIP VQA", "caption": "BLIP caption (exact)",
          "fusion": "ViLT"}


def _cell(accuracy: float, n: int) -> str:
    low, high = interval(accuracy, n)
    return f"{accuracy:.1%} ({low:.0%}-{high:.0%})"


def robustness_section(pack: str, key: str) -> None:
    st.markdown("##### Does it still work off the grey canvas? Held-out accuracy per background")
    if pack != "bundled":
        st.caption("The shift table scores the bundled models on shapes scenes drawn on every background.")
        return
    scenes = st.segmented_control("Held-out scenes per cell", robustness.SHIFT_SCENES,
                                  default=robustness.SHIFT_SCENES[0], key=f"{key}_shift_scenes")
    scenes = scenes or robustness.SHIFT_SCENES[0]
    if not st.toggle(f"Score every bundled model on {scenes} held-out scenes per background", key=f"{key}_shift",
                     help="A few seconds per model the first time; cached for every session afterwards."):
        return
    columns = list(shapes_world.BACKGROUNDS) + [held_out.PHRASED]
    n_phrased = len(held_out.other_phrasing_seeds(held_out.test_seeds(scenes)))
    frame: dict[str, list[str]] = {"model": []}
    for column in columns:
        frame[column] = []
    for role, name in MODELS.items():
        row = robustness.shift_row(pack, role, scenes)
        frame["model"].append(name)
        for column in columns:
            n = n_phrased if column == held_out.PHRASED else scenes
            frame[column].append(_cell(row[column], n) if column in row else "-")
    st.dataframe(frame, hide_index=True, key=f"{key}_shift_table")
    st.caption(f"Each cell: accuracy on {scenes} held-out scenes (95% Wilson interval); *other phrasings*: "
               f"{n_phrased} grey scenes asked *what is the colour of the <shape>?* and the four other phrasings "
               "training also saw. Training drew grey, white, black, a random colour and light noise; light blue "
               "is never drawn by name. CLIP answers one-object scenes; VQA and ViLT *what color is the <shape>?* "
               "about one of two objects; captions must match the template word for word.")
