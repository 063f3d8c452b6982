"""CLIP space, section 3: InfoNCE over the matched pairs, with a temperature slider against CLIP's learned one."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.sections.lesson import formulas_at
from core.classroom.page_table import PageSpec
from core.concepts.clip_space import ClipSpace
from core.concepts.contrastive import info_nce


def infonce_section(space: ClipSpace, pairs_n: int, page: PageSpec) -> None:
    st.subheader("3. The loss that shaped this space: InfoNCE")
    st.markdown(
        f"Over the {pairs_n} matched pairs (image *i* with caption *i*): logits = cos(image, caption) / τ; each image "
        "must pick its own caption among all captions (softmax over a row) and each caption its own image (over a "
        "column). CLIP learns τ; a small τ makes the softmax sharp."
    )
    formulas_at(page.name, "infonce")
    temperature = st.slider("Temperature τ", 0.005, 1.0, float(np.clip(round(1 / space.logit_scale, 3), 0.005, 1.0)),
                            0.005, key="clip_temperature", format="%.3f")
    loss = info_nce(space.image_embeds[:pairs_n], space.text_embeds[:pairs_n], temperature)
    left, middle, right = st.columns(3)
    left.metric("image → caption", f"{loss.image_to_text:.3f}")
    middle.metric("caption → image", f"{loss.text_to_image:.3f}")
    right.metric("InfoNCE (mean)", f"{loss.loss:.3f}", help=f"Chance level: ln({pairs_n}) = {np.log(pairs_n):.3f}")
    st.caption(f"CLIP's own learned temperature: τ = 1/{space.logit_scale:.1f} = {1 / space.logit_scale:.3f}.")
