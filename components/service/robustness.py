"""The shift table's rows for the pages: each bundled model's held-out accuracy per background and phrasing.

Keyed by pack, role and n only (the same held-out seeds for everyone), so the first student to ask pays for it
and every session after reads the cache. Measured here: 100 scenes a cell, all six backgrounds, 1-4 s per model.
"""
from __future__ import annotations

import streamlit as st

from components.service import models
from components.service.forward_slots import position_shown, queued
from core.shapes import held_out

SHIFT_SCENES = (100, 300)  # the page's choice of n; 300 is what `python -m core.evaluate` prints (same seeds)


@st.cache_data(show_spinner="Scoring the model on held-out scenes on every background…", max_entries=16)
@queued
def _shift_row(pack: str, role: str, scenes: int) -> dict[str, float]:
    loaded = models.model(pack, role)
    return held_out.shift_row(role, loaded.model, loaded.processor, held_out.test_seeds(scenes))


def shift_row(pack: str, role: str, scenes: int) -> dict[str, float]:
    """held_out.shift_row on the first `scenes` held-out seeds: {background or 'other phrasings': accuracy}."""
    with position_shown():
        return _shift_row(models.serving_pack(pack, role), role, scenes)
