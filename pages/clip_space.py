import numpy as np
import streamlit as st

from components import clip_source, deep_link
from components.attention_matrix import attention_matrix
from components.export import chart_config, export_embeddings, export_matrix
from components.gallery_picker import gallery_picker
from components.inputs import current, require_image
from components.lesson import formulas_at, lesson_intro
from components.live_training import live_training_panel
from components.patch_overlay import patch_overlay
from components.predict_reveal import option_question, predict_toggle
from components.space_explorer import space_explorer
from components.token_bars import token_bars
from core.inputs import text_limits
from core.concepts.clip_space import patch_text_similarity_in
from core.concepts.contrastive import info_nce
from core.concepts.zero_shot import TEMPLATES
from core.classroom.page_table import page

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
pairs_n = min(len(items), len(captions))
image_labels = [item.name for item in items]
deep_link.apply_view(PAGE.name)  # a link's or preset's predict mode (the page has no layer, head or token)
predict = predict_toggle(PAGE.keys)
deep_link.publish(predict=True if predict else None)
if predict:
    option_question(PAGE.key("q"), f"Which caption will CLIP place nearest to image 0 ({image_labels[0]})?",
                    captions, space.similarity[0], (source.key, named_images[0][0], tuple(captions)))
as_logits = st.radio("Show", ["cosine", "logits = cosine × CLIP's learned scale"], horizontal=True,
                     key="clip_matrix_values") != "cosine"
matrix = space.logits if as_logits else space.similarity
fig = attention_matrix(matrix, image_labels, captions, height=520, x_title="captions", y_title="images",
                       title=f"{'Logits' if as_logits else 'Cosine similarity'} (images x captions); "
                             "boxes: matched pairs", value_label="logit" if as_logits else "cosine",
                       cells=[(i, i) for i in range(pairs_n)])
st.plotly_chart(fig, key="similarity", config=chart_config("clip-space_similarity"))
export_matrix(matrix, image_labels, captions, "clip-space_similarity", key="clip_similarity_export", figure=fig,
              corner="image \\ caption", values="logits" if as_logits else "cosine", model=source.label)

st.subheader("2. The space, flattened")
projection_figure = space_explorer(space, items, captions)
export_embeddings(space.image_embeds, image_labels, space.text_embeds, captions, "clip-space_embeddings",
                  key="clip_embeddings_export", figure=projection_figure, pack=inputs.pack, model=source.label)

st.subheader("3. The loss that shaped this space: InfoNCE")
st.markdown(
    f"Over the {pairs_n} matched pairs (image *i* with caption *i*): logits = cos(image, caption) / τ; each image must "
    "pick its own caption among all captions (softmax over a row) and each caption its own image (over a column). "
    "CLIP learns τ; a small τ makes the softmax sharp."
)
formulas_at(PAGE.name, "infonce")
temperature = st.slider("Temperature τ", 0.005, 1.0, float(np.clip(round(1 / space.logit_scale, 3), 0.005, 1.0)), 0.005,
                        key="clip_temperature", format="%.3f")
loss = info_nce(space.image_embeds[:pairs_n], space.text_embeds[:pairs_n], temperature)
left, middle, right = st.columns(3)
left.metric("image → caption", f"{loss.image_to_text:.3f}")
middle.metric("caption → image", f"{loss.text_to_image:.3f}")
right.metric("InfoNCE (mean)", f"{loss.loss:.3f}", help=f"Chance level: ln({pairs_n}) = {np.log(pairs_n):.3f}")
st.caption(f"CLIP's own learned temperature: τ = 1/{space.logit_scale:.1f} = {1 / space.logit_scale:.3f}.")

st.subheader("4. Zero-shot classification: class names as captions")
default_classes = ("red circle, blue square, green triangle, yellow circle, orange triangle, purple square"
                   if inputs.pack == "bundled" else "cat, dog, astronaut, cup of coffee, rocket")
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

st.subheader("5. Text → patch similarity (a probe CLIP was not trained for)")
patch_caption = st.selectbox("Caption to compare with every patch of the sidebar image", range(len(captions)),
                             format_func=lambda i: captions[i], key="clip_patch_text")
patch_caption = patch_caption if patch_caption is not None and patch_caption < len(captions) else 0
probe = patch_text_similarity_in(space, patch_caption)  # from the embedding pass: no forward of its own
st.plotly_chart(patch_overlay(probe.model_image, probe.patch_size, probe.cosine.shape, probe.cosine,
                              title="cosine(patch token → image projection, caption embedding)",
                              value_label="cosine"), key="patch_text", config=chart_config("clip-space_text-patch"))
st.caption(
    f"Each patch token of the last vision layer goes through the same LayerNorm and projection as the CLS token, "
    f"then is compared with the caption (CLS itself: {probe.cls_cosine:.3f}). Honest note: CLIP's loss only ever "
    "trained the CLS path, so the patch tokens were never asked to land near words; this map is noisy and often "
    "lights up the background. Models trained for it (e.g. with a patch-level loss) ground far better."
)
if source.key != "hub":  # shapes scenes are the bundled and mini-CLIP's own world; a hub CLIP would need 100 B/32 runs
    share = clip_source.patch_probe_score(source.key, source)
    st.caption(f"Measured now with {source.label} on {clip_source.PROBE_SCENES} held-out two-object scenes: the "
               "named object's patches are closer to its name (e.g. 'a red circle') than the other object's in "
               f"{share:.0%} of them (chance 50%).")

st.subheader("6. Train a mini-CLIP yourself")
live_training_panel()
