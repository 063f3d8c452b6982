"""CLIP space, section 5: text -> patch similarity, a probe CLIP was not trained for, and how often it is right."""
from __future__ import annotations

import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.service import clip_source
from components.widgets.export import chart_config
from core.analysis.intervals import share_with_interval
from core.concepts.clip_space import ClipSpace, patch_text_similarity_in


def patch_probe_section(space: ClipSpace, captions: list[str], source: clip_source.ClipSource) -> None:
    st.subheader("5. Text → patch similarity (a probe CLIP was not trained for)")
    patch_caption = st.selectbox("Caption to compare with every patch of the sidebar image", range(len(captions)),
                                 format_func=lambda i: captions[i], key="clip_patch_text")
    patch_caption = patch_caption if patch_caption is not None and patch_caption < len(captions) else 0
    probe = patch_text_similarity_in(space, patch_caption)  # from the embedding pass: no forward of its own
    st.plotly_chart(patch_overlay(probe.patches, probe.cosine,
                                  title="cosine(patch token → image projection, caption embedding)",
                                  value_label="cosine"), key="patch_text",
                    config=chart_config("clip-space_text-patch"))
    st.caption(
        f"Each patch token of the last vision layer goes through the same LayerNorm and projection as the CLS token, "
        f"then is compared with the caption (CLS itself: {probe.cls_cosine:.3f}). Honest note: CLIP's loss only ever "
        "trained the CLS path, so the patch tokens were never asked to land near words; this map is noisy and often "
        "lights up the background. Models trained for it (e.g. with a patch-level loss) ground far better."
    )
    # shapes scenes are the bundled and mini-CLIP's own world; a hub CLIP would need 100 B/32 runs
    if source.key != "hub":
        share = clip_source.patch_probe_score(source.key, source)
        st.caption(f"Measured now with {source.label} on {clip_source.PROBE_SCENES} held-out two-object scenes: the "
                   "named object's patches are closer to its name (e.g. 'a red circle') than the other object's in "
                   f"{share_with_interval(share, clip_source.PROBE_SCENES)} of them (chance 50%; the bracket is the "
                   "95% Wilson interval that this many scenes allow).")
