import numpy as np
import streamlit as st

from components import models
from components.attention_matrix import attention_matrix
from components.inputs import current, require_image, require_text
from components.layer_head import layer_head_selectors
from components.clickable_grid import clickable_patch_grid
from components.fusion_designs_view import fusion_designs_view
from components.mass_chart import mass_chart
from components.patch_overlay import patch_overlay
from components.token_bars import token_bars
from core.attention import select
from core.cross_attention import naming_token
from core.early_fusion import block_label_positions, cross_modal_mass

st.title("Early fusion: one stream for words and patches")
st.markdown(
    "ViLT does not keep separate towers: it puts the text tokens and the image patches into **one sequence** "
    "(each marked with a modality embedding) and lets plain self-attention mix them from layer 0. Every token can "
    "attend to every other token, in either modality."
)
inputs = current()
image_png = require_image(inputs)
question = require_text(inputs)
result = models.fuse(inputs.pack, image_png, question)

answer, score = result.top_answers[0]
st.subheader(f"Answer: {answer}")
st.caption(" · ".join(f"{a} {s:.2f}" for a, s in result.top_answers) + " (sigmoid scores, top 5)")

with st.expander(f"The stream: {result.n_text} text tokens + {result.n_image} image tokens = "
                 f"{result.n_text + result.n_image}"):
    st.caption("Each token's vector = its content (a word embedding or a patch projection) + a position embedding + "
               "a modality (token-type) embedding. ViLT draws the image tokens in a random order on every forward; "
               "the position column says which patch each one is.")
    st.dataframe(result.stream_rows(), key="fusion_stream", height=260)

n_layers, n_heads = result.attentions.shape[:2]
layer, head = layer_head_selectors(n_layers, n_heads, key="fusion")
matrix_stream = select(result.attentions, layer, head)  # (S, S) in ViLT's own (shuffled) token order
order = result.reading_order()  # ViLT shuffles its patches; show them row by row
matrix = matrix_stream[np.ix_(order, order)]
tokens = [result.tokens[i] for i in order]
boundary = result.n_text - 0.5
st.plotly_chart(attention_matrix(matrix, tokens, tokens, title="Joint self-attention (patches in reading order)",
                                 boundaries=[("x", boundary), ("y", boundary)], height=560,
                                 block_labels=block_label_positions(result.n_text, result.n_image)),
                key="joint_attention")
blocks = result.blocks(matrix)
st.caption(
    f"{result.n_text} text tokens + {result.n_image} image tokens (1 image CLS + {result.n_image - 1} patches). "
    "The blue lines split the four blocks; share of attention per block (rows are queries): "
    + ", ".join(f"{name} {block.sum() / matrix.sum():.0%}" for name, block in blocks.items())
)

st.plotly_chart(mass_chart(cross_modal_mass(result.attentions, result.n_text),
                           title="How much each modality reads the other, layer by layer"), key="cross_modal_mass")
st.caption("text->image: the share of a text token's attention that goes to image tokens (mean over text tokens); "
           "image->text: the share of an image token's attention that goes to text tokens. Dots are single heads.")

left, right = st.columns(2)
with left:
    text_options = list(range(result.n_text))
    text_token = st.segmented_control("Text token", text_options, default=naming_token(result.tokens[:result.n_text]),
                                      key="fusion_token", format_func=lambda i: result.tokens[i])
    text_token = naming_token(result.tokens[:result.n_text]) if text_token is None else text_token
    st.plotly_chart(patch_overlay(result.model_image, result.patch_size, result.grid,
                                  result.text_to_patches(matrix_stream, text_token),
                                  title=f"Where “{result.tokens[text_token]}” looked in the image"),
                    key="fusion_token_heatmap")
with right:
    rows, cols = result.grid
    st.markdown("**Which words does a patch read?** Click a patch.")
    clickable_patch_grid(result.model_image, result.grid, state_key="fusion_patch", click_key="fusion_patch_click")
    r, c = divmod(st.session_state.get("fusion_patch", 0), cols)
    st.plotly_chart(token_bars(result.patch_to_text(matrix_stream, r, c), result.tokens[:result.n_text],
                               title=f"Attention from patch p({r},{c}) to the text"), key="fusion_patch_tokens")

if st.toggle("Compare the three fusion designs on this input", key="fusion_designs"):
    fusion_designs_view(models.fusion_designs_compare(inputs.pack, image_png, question), key="designs")
