import streamlit as st

from components.sections.cost_readout import cost_readout
from components.sections.infonce_section import infonce_section
from components.sections.lesson import lesson_intro
from components.sections.live_training import live_training_panel
from components.sections.modality_gap_section import modality_gap_section
from components.sections.patch_probe_section import patch_probe_section
from components.sections.similarity_section import similarity_section
from components.sections.space_explorer import space_explorer
from components.sections.zero_shot_section import zero_shot_section
from components.service import clip_source
from components.widgets import deep_link
from components.widgets.export import export_embeddings
from components.widgets.gallery_picker import gallery_picker
from components.widgets.inputs import current, require_image
from components.widgets.predict_reveal import option_question, predict_toggle
from core.classroom.page_table import page
from core.inputs import text_limits

PAGE = page("clip-space")
st.title("CLIP space: one coordinate system for images and captions")
lesson_intro(PAGE.name)
inputs = current()
image_png = require_image(inputs)
source = clip_source.pack_source(inputs.pack)
live = clip_source.live_source()
if live is not None and st.toggle(f"Use {live.label}", key="clip_use_live",
                                  help="Trained at the bottom of this page, kept for this session only."):
    source = live
st.caption(f"Embeddings from {source.label}.")

st.subheader("1. A gallery and its captions")
items, captions = gallery_picker(inputs, image_png)
fitted = [text_limits.prepare(caption, inputs.pack, roles=("clip",)) for caption in captions]
captions = [f.text for f in fitted if f.text]  # cleaned, and cut to CLIP's max tokens
caption_notes = [f"Caption {i}: {note}" for i, f in enumerate(fitted) for note in f.notes]
if caption_notes:
    with st.expander(f"Notes on the captions ({len(caption_notes)})"):
        for note in caption_notes:
            st.caption(note)
if not captions:
    st.warning("Write at least one caption.")
    st.stop()
named_images = tuple((item.name, item.png) for item in items)
space = clip_source.embed(source.key, named_images, tuple(captions), source)
cost_readout(space.cost)
pairs_n = min(len(items), len(captions))
image_labels = [item.name for item in items]
deep_link.apply_view(PAGE.name)  # a link's or preset's predict mode (the page has no layer, head or token)
predict = predict_toggle(PAGE.keys)
deep_link.publish(predict=True if predict else None)
if predict:
    option_question(PAGE.key("q"), f"Which caption will CLIP place nearest to image 0 ({image_labels[0]})?",
                    captions, space.similarity[0], (source.key, named_images[0][0], tuple(captions)))
similarity_section(space, image_labels, captions, pairs_n, source)

st.subheader("2. The space, flattened")
projection_figure = space_explorer(space, items, captions)
modality_gap_section(space, pairs_n, source)
export_embeddings(space.image_embeds, image_labels, space.text_embeds, captions, "clip-space_embeddings",
                  key="clip_embeddings_export", figure=projection_figure, pack=inputs.pack, model=source.label)

infonce_section(space, pairs_n, PAGE)
zero_shot_section(inputs.pack, space, source)
patch_probe_section(space, captions, source)

st.subheader("6. Train a mini-CLIP yourself")
live_training_panel()
