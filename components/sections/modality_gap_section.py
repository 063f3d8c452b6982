"""CLIP space: the modality gap as a picture (both centroids and the vector between them) and what closing it does
to matching, measured on this gallery and, for models of the shapes world, on held-out scenes."""
from __future__ import annotations

import numpy as np
import streamlit as st

from components.figures.gap_figure import modality_gap_figure
from components.service import clip_source
from components.widgets.export import chart_config
from core.analysis.intervals import share_with_interval
from core.concepts.clip_space import ClipSpace
from core.concepts.contrastive import matched_accuracy, modality_gap


def modality_gap_section(space: ClipSpace, pairs_n: int, source: clip_source.ClipSource) -> None:
    n_images = len(space.image_embeds)
    projection = clip_source.project(np.vstack([space.image_embeds, space.text_embeds]), "PCA", 2)  # no centring
    gap = modality_gap(space.image_embeds, space.text_embeds)
    left, right = st.columns([3, 2])
    left.plotly_chart(modality_gap_figure(projection.coords[:n_images], projection.coords[n_images:], gap,
                                          title="The modality gap: two clouds, two centroids"),
                      key="modality_gap", config=chart_config("clip-space_modality-gap"))
    with right:
        st.markdown(f"**Gap {gap:.2f}**: the distance between the image centroid and the caption centroid (unit "
                    "vectors; 0 would mean one shared centre). Contrastive training only asks matched pairs to be "
                    "closer than mismatched ones, so the two kinds can keep to their own regions.")
        if pairs_n >= 2:
            pairs = np.arange(pairs_n)
            raw = matched_accuracy(space.image_embeds[:pairs_n], space.text_embeds[:pairs_n], pairs)
            centred = matched_accuracy(space.image_embeds[:pairs_n], space.text_embeds[:pairs_n], pairs, centred=True)
            st.metric(f"Image -> its own caption, this gallery ({pairs_n} pairs)", f"{raw:.0%}",
                      f"{centred - raw:+.0%} with the gap closed (centred: {centred:.0%})", delta_color="off")
        if source.key != "hub":  # the shapes world's models: 100 held-out scenes cost well under a second
            acc, acc_centred, n = clip_source.zero_shot_centring(source.key, source)
            st.metric(f"Zero-shot on {n} held-out scenes (18 classes)", f"{acc:.0%}",
                      f"{acc_centred - acc:+.0%} with the gap closed (centred: {acc_centred:.0%})", delta_color="off",
                      help="The 95% Wilson interval below is what n scenes allow; a change inside it may be noise.")
            st.caption(f"Held-out zero-shot {share_with_interval(acc, n)}; centred "
                       f"{share_with_interval(acc_centred, n)} (95% Wilson intervals).")
        st.caption("Closing the gap: subtract each modality's centroid, renormalise, then match. Measured, not "
                   "assumed: it can help, do nothing or hurt.")
