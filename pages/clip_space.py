import numpy as np
import streamlit as st

from components import models
from components.attention_matrix import attention_matrix
from components.inputs import current, require_image
from components.projection_plot import projection_plot
from components.token_bars import token_bars
from core import images
from core.clip_space import pca
from core.contrastive import centre_each_modality, info_nce, modality_gap
from core.zero_shot import TEMPLATES

st.title("CLIP space: one coordinate system for images and captions")
st.markdown(
    "CLIP has two towers, one for images and one for text, each ending in a projection to the same space. "
    "Contrastive training pulls each image towards its own caption and pushes it away from the others, so a "
    "matching pair ends up close: **cosine similarity** is high on the diagonal below."
)
inputs = current()
image_png = require_image(inputs)

gallery = [(name, images.sample_png(name)) for name in images.samples() if name != inputs.image_name]
named_images = [(inputs.image_name, image_png)] + gallery
default_captions = [images.samples()[n].caption for n, _ in gallery]
sample = images.samples().get(inputs.image_name)
first_caption = sample.caption if sample else (inputs.text or "a photo")  # an upload: what the user typed
captions_text = st.text_area("Captions, one per line (the first belongs to the sidebar image)",
                             value="\n".join([first_caption] + default_captions), key="clip_captions", height=160)
captions = [line.strip() for line in captions_text.splitlines() if line.strip()]
if not captions:
    st.warning("Write at least one caption.")
    st.stop()

space = models.clip_embed(inputs.pack, tuple(named_images), tuple(captions))
image_labels = [name for name, _ in named_images]
fig = attention_matrix(space.similarity, image_labels, captions, title="Cosine similarity (images x captions)",
                       height=520, x_title="captions", y_title="images", value_label="cosine")
for i in range(min(len(image_labels), len(captions))):  # the matched pairs
    fig.add_shape(type="rect", x0=i - 0.5, x1=i + 0.5, y0=i - 0.5, y1=i + 0.5, line=dict(color="#00d4ff", width=2))
st.plotly_chart(fig, key="similarity")

n_images = len(image_labels)
gap = modality_gap(space.image_embeds, space.text_embeds)
centred = st.toggle("Centre each modality (close the modality gap)", key="clip_centre",
                    help="Images and captions sit in two separate cones of the shared space. Subtracting each "
                         "modality's own centroid removes that offset, and matched pairs come together.")
image_points, text_points = (centre_each_modality(space.image_embeds, space.text_embeds) if centred
                             else (space.image_embeds, space.text_embeds))
points = pca(np.vstack([image_points, text_points]))  # (I + T, 2)
pairs = [(i, i) for i in range(min(n_images, len(captions)))]
st.plotly_chart(projection_plot(points[:n_images], image_labels, points[n_images:], captions, pairs,
                                title="PCA of image and caption embeddings"), key="projection")
st.caption(f"Modality gap: the image centroid and the caption centroid are {gap:.2f} apart (unit vectors; 0 "
           f"means the two clouds share a centre){' — removed by the toggle' if centred else ''}.")

st.subheader("The loss that shaped this space: InfoNCE")
pairs_n = min(n_images, len(captions))
st.markdown(
    f"Over the {pairs_n} matched pairs (image *i* with caption *i*): logits = cos(image, caption) / τ; each image must "
    "pick its own caption among all captions (softmax over a row) and each caption its own image (over a column). "
    "CLIP learns τ; a small τ makes the softmax sharp."
)
temperature = st.slider("Temperature τ", 0.005, 1.0, float(np.clip(round(1 / space.logit_scale, 3), 0.005, 1.0)), 0.005,
                        key="clip_temperature", format="%.3f")
loss = info_nce(space.image_embeds[:pairs_n], space.text_embeds[:pairs_n], temperature)
left, middle, right = st.columns(3)
left.metric("image → caption", f"{loss.image_to_text:.3f}")
middle.metric("caption → image", f"{loss.text_to_image:.3f}")
right.metric("InfoNCE (mean)", f"{loss.loss:.3f}", help=f"Chance level: ln({pairs_n}) = {np.log(pairs_n):.3f}")
st.caption(f"CLIP's own learned temperature: τ = 1/{space.logit_scale:.1f} = {1 / space.logit_scale:.3f}.")

st.subheader("Zero-shot classification: class names as captions")
default_classes = ("red circle, blue square, green triangle, yellow circle, orange triangle, purple square"
                   if inputs.pack == "bundled" else "cat, dog, astronaut, cup of coffee, rocket")
class_text = st.text_input("Classes, comma-separated", default_classes, key="clip_classes", max_chars=400)
templates = st.multiselect("Prompt templates ({} is the class name)", list(TEMPLATES), default=[TEMPLATES[0]],
                           key="clip_templates", accept_new_options=True)
class_names = [c.strip() for c in class_text.split(",") if c.strip()]
templates = [t for t in templates if "{}" in t]
if class_names and templates:
    result = models.zero_shot_classify(inputs.pack, image_png, tuple(class_names), tuple(templates))
    st.plotly_chart(token_bars(result.probabilities, class_names, value_label="probability",
                               title=f"{len(templates)} template(s) ensembled: the mean of their unit embeddings"),
                    key="zero_shot")
else:
    st.info("Give at least one class name and one template containing {}.")
