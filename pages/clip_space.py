import numpy as np
import streamlit as st

from components import models
from components.attention_matrix import attention_matrix
from components.inputs import current, require_image
from components.projection_plot import projection_plot
from core import images
from core.clip_space import pca

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

points = pca(np.vstack([space.image_embeds, space.text_embeds]))  # (I + T, 2)
n_images = len(image_labels)
pairs = [(i, i) for i in range(min(n_images, len(captions)))]
st.plotly_chart(projection_plot(points[:n_images], image_labels, points[n_images:], captions, pairs,
                                title="PCA of image and caption embeddings"), key="projection")
st.caption(f"CLIP's learned temperature: logits = cosine x {space.logit_scale:.1f}.")
