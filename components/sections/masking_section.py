"""Cross-attention: "Is the attention faithful? Hide the patches and ask again", top-k attended vs k random patches."""
from __future__ import annotations

import streamlit as st

from components.figures.pictures import picture_png
from components.service import models


def masking_section(pack: str, image_png: bytes, question: str, tokens: list[str], n_patches: int, layer, head,
                    token: int) -> None:
    with st.expander("Is the attention faithful? Hide the patches and ask again"):
        st.markdown("Attention is **evidence, not proof**: a token can look at a patch the answer does not depend "
                    "on. Test it: grey out the patches the selected token attended to most, and compare with "
                    "greying out as many random patches.")
        k = st.slider("Patches to hide (k)", 1, min(16, n_patches), 4, key="cross_mask_k")
        # Off until asked: the test runs the model 7 more times, more than the rest of the page together.
        if st.toggle("Run the test (7 more forwards of the model)", key="cross_masking"):
            masking = models.masking_test(pack, image_png, question, layer, head, token, k)
            left, right = st.columns(2)
            left.image(picture_png(masking.top_masked_image, 260), width=260, output_format="PNG",
                       caption=f"top-{k} patches of “{tokens[token]}” hidden")
            right.metric(f"P(“{masking.answer}”) as asked", f"{masking.p_original:.1%}")
            right.metric(f"… with the top-{k} attended patches hidden", f"{masking.p_top_masked:.1%}",
                         delta=f"{masking.p_top_masked - masking.p_original:+.1%}")
            right.metric(f"… with {k} random patches hidden (mean of 5)", f"{masking.p_random_masked:.1%}",
                         delta=f"{masking.p_random_masked - masking.p_original:+.1%}")
