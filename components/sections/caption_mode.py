"""The Cross-attention page's captioning mode: BLIP's decoder writes the caption word by word, with what it cost
and the explanation methods for a caption word."""
from __future__ import annotations

import streamlit as st

from components.sections.caption_explanations import caption_explanations_section
from components.sections.caption_view import caption_view
from components.sections.cost_readout import cost_readout
from components.service import models


def caption_mode(pack: str, image_png: bytes) -> None:
    st.markdown("BLIP's captioning decoder writes one word at a time; at every step its cross-attention reads the "
                "patches again.")
    result = models.caption(pack, image_png)
    caption_view(result)
    cost_readout(result.cost)
    caption_explanations_section(pack, image_png)
