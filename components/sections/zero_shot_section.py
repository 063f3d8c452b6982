"""CLIP space, section 4: zero-shot classification, class names put in prompt templates and read as captions."""
from __future__ import annotations

import streamlit as st

from components.figures.token_bars import token_bars
from components.service import clip_source
from components.widgets.export import chart_config
from core.concepts.clip_space import ClipSpace
from core.concepts.zero_shot import TEMPLATES


def zero_shot_section(pack: str, space: ClipSpace, source: clip_source.ClipSource) -> None:
    """Classifies the first image of the space (the sidebar's)."""
    st.subheader("4. Zero-shot classification: class names as captions")
    default_classes = ("red circle, blue square, green triangle, yellow circle, orange triangle, purple square"
                       if pack == "bundled" else "cat, dog, astronaut, cup of coffee, rocket")
    class_text = st.text_input("Classes, comma-separated", default_classes, key="clip_classes", max_chars=400)
    templates = st.multiselect("Prompt templates ({} is the class name)", list(TEMPLATES), default=[TEMPLATES[0]],
                               key="clip_templates", accept_new_options=True)
    class_names = [c.strip() for c in class_text.split(",") if c.strip()]
    templates = [t for t in templates if "{}" in t]
    if class_names and templates:
        result = clip_source.classify(source.key, space.image_embeds[0], tuple(class_names), tuple(templates), source)
        st.plotly_chart(token_bars(result.probabilities, class_names, value_label="probability",
                                   title=f"{len(templates)} template(s) ensembled: the mean of their unit embeddings"),
                        key="zero_shot", config=chart_config("clip-space_zero-shot"))
    else:
        st.info("Give at least one class name and one template containing {}.")
