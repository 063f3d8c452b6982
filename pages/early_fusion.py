import numpy as np
import streamlit as st

from components import models
from components.attention_matrix import attention_matrix
from components.inputs import current, require_image, require_text
from components.layer_head import layer_head_selectors
from core.attention import select

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

n_layers, n_heads = result.attentions.shape[:2]
layer, head = layer_head_selectors(n_layers, n_heads, key="fusion")
order = result.reading_order()  # ViLT shuffles its patches; show them row by row
matrix = select(result.attentions, layer, head)[np.ix_(order, order)]  # (S, S)
tokens = [result.tokens[i] for i in order]
boundary = result.n_text - 0.5
st.plotly_chart(attention_matrix(matrix, tokens, tokens, title="Joint self-attention (patches in reading order)",
                                 boundaries=[("x", boundary), ("y", boundary)], height=560),
                key="joint_attention")
blocks = result.blocks(matrix)
st.caption(
    f"{result.n_text} text tokens + {result.n_image} image tokens (1 image CLS + {result.n_image - 1} patches). "
    "The blue lines split the four blocks; share of attention per block (rows are queries): "
    + ", ".join(f"{name} {block.sum() / matrix.sum():.0%}" for name, block in blocks.items())
)
