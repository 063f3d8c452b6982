import streamlit as st

from components.inputs import current

st.title("Where text meets vision")
st.markdown(
    """
How does a transformer that reads words come to *see*? Four pages, four ideas, each run live on a real model:

| page | the idea | model |
|---|---|---|
| **Patching** | a Vision Transformer cuts the image into a grid of patches and turns each into a vector | CLIP's vision tower |
| **Cross-attention** | text tokens send queries to image patches; softmax(QKᵀ/√d_k)V gives each token a context vector | BLIP VQA |
| **CLIP space** | contrastive training puts an image and its caption at the same coordinates | CLIP |
| **Early fusion** | text tokens and image patches in one stream, self-attention across modalities from layer 0 | ViLT |

Pick an image and type a question in the sidebar: they follow you from page to page.
"""
)
inputs = current()
if inputs.pack == "bundled":
    st.info(
        "You are on the **bundled** pack: tiny models of the same classes as the real checkpoints, trained in "
        "minutes on a synthetic *shapes world* (coloured circles, squares and triangles). Because every scene is "
        "drawn by the app, we know where each object is, so you can check whether *red* really looks at the red "
        "object. Try the shapes samples and questions like *what color is the circle?*"
    )
