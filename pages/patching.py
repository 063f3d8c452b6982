import streamlit as st

from components import models
from components.inputs import current, require_image
from components.layer_head import layer_head_selectors
from components.patch_overlay import patch_overlay
from core.attention import select

st.title("Patching: from pixels to a sequence of patch vectors")
st.markdown(
    "A Vision Transformer reads an image the way a language model reads a sentence: as a sequence. It resizes the "
    "image, cuts it into **P x P patches**, flattens and projects each patch to a vector (like a word embedding), "
    "adds a position, and puts a **CLS** token first. Below: the grid it uses, and where CLS looks."
)
inputs = current()
view = models.patch_view(inputs.pack, require_image(inputs))

rows, cols = view.grid
st.metric("Patches N = (H/P) x (W/P)", f"{view.n_patches} = {rows} x {cols}",
          help=f"{view.model_image.shape[0]} x {view.model_image.shape[1]} px image, P = {view.patch_size} px; "
               f"the sequence is CLS + {view.n_patches} patches = {view.n_patches + 1} tokens")
n_layers, n_heads = view.attentions.shape[:2]
layer, head = layer_head_selectors(n_layers, n_heads, key="patching")
cls_row = select(view.attentions, layer, head)[0, 1:]  # (N,): CLS query over the patch keys

left, right = st.columns(2)
left.plotly_chart(patch_overlay(view.model_image, view.patch_size, view.grid, title="What the model sees"),
                  key="patch_grid")
right.plotly_chart(patch_overlay(view.model_image, view.patch_size, view.grid, cls_row.reshape(rows, cols),
                                 title="CLS -> patch attention"), key="cls_attention")
st.caption(f"CLS attention over patches sums to {cls_row.sum():.3f}; the rest ({1 - cls_row.sum():.3f}) goes to "
           "CLS itself.")
