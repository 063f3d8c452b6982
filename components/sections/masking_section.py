"""Cross-attention: "Is the attention faithful? Hide the patches and ask again", top-k attended vs k random patches,
and on held-out shapes scenes the two object controls (k patches of the named object, k of the other one)."""
from __future__ import annotations

import streamlit as st

from components.figures.pictures import picture_png
from components.service import explanations, models
from core.analysis import faithfulness


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
        _held_out_controls(pack, k)


def _held_out_controls(pack: str, k: int) -> None:
    """The same test on held-out two-object scenes, with the controls that say what a drop should be compared with."""
    if pack != "bundled":
        return  # the controls need the shapes world's object masks
    n = explanations.MASKING_SCENES
    if not st.toggle(f"Controls: the same test on {n} held-out shapes scenes", key="cross_mask_controls",
                     help=f"About {3 * n // 100} s the first time for each k; cached for every session afterwards."):
        return
    summary = explanations.masking_controls(pack, k, n)
    drops = [summary.drop(c) for c in faithfulness.CONTROLS]
    st.dataframe({"hidden": [faithfulness.CONTROL_WORDS[c] for c in faithfulness.CONTROLS],
                  "mean drop in P(answer)": [round(d.mean, 3) for d in drops],
                  "95% interval": [f"{d.low:.3f} to {d.high:.3f}" for d in drops],
                  "scenes (n)": [d.n for d in drops]}, key="cross_mask_controls_table", hide_index=True)
    st.caption(f"Two-object scenes asked *what color is the <shape>?*; the attention row is the shape word's, "
               f"averaged over layers and heads. The named object's patches are what the answer needs: the bar for "
               f"the attended ones. The other object's are as colourful but not asked about. Top-attended hurt more "
               f"than random in {summary.share_larger('top_attended', 'random')} of scenes; the named object's more "
               f"than the other object's in {summary.share_larger('named_object', 'other_object')} (95% Wilson "
               "intervals; drops: 95% t-intervals of the mean).")
