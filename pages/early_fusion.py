import numpy as np
import streamlit as st

from components import deep_link, models
from components.attention_matrix import attention_matrix
from components.clickable_grid import clickable_patch_grid
from components.export import chart_config, export_matrix
from components.fusion_designs_view import fusion_designs_view
from components.inputs import current, require_image, require_text
from components.layer_head import layer_head_selectors
from components.lesson import formulas_at, lesson_intro
from components.mass_chart import mass_chart
from components.patch_overlay import patch_overlay
from components.predict_reveal import choice_question, predict_toggle
from components.presets import preset_buttons
from components.tables import arrow_table
from components.token_bars import token_bars
from core.attention import HEAD_MAX, HEAD_MEAN, select
from core.concepts.cross_attention import naming_token
from core.concepts.early_fusion import block_label_positions
from core.classroom.prediction import SHARE_BINS
from core.classroom.page_table import page

PAGE = page("early-fusion")
st.title("Early fusion: one stream for words and patches")
lesson_intro(PAGE.name)
preset_buttons(PAGE.name)
inputs = current()
image_png = require_image(inputs)
question = require_text(inputs)
result = models.fuse(inputs.pack, image_png, question)
n_layers, n_heads = result.attentions.shape[:2]
deep_link.apply_view(PAGE.name, list(range(n_layers)), [HEAD_MEAN, HEAD_MAX, *range(n_heads)],
                     n_tokens=result.n_text, n_patches=result.grid[0] * result.grid[1])
if predict_toggle(PAGE.keys):
    choice_question(PAGE.key("q"), "In the last layer, what share of a text token's attention goes to the image "
                    "tokens (mean over text tokens and heads)?", SHARE_BINS,
                    float(result.modality_mass["text->image"][-1].mean()),
                    (inputs.pack, inputs.image_name, question))

answer, score = result.top_answers[0]
st.subheader(f"Answer: {answer}")
st.caption(" · ".join(f"{a} {s:.2f}" for a, s in result.top_answers) + " (sigmoid scores, top 5)")

with st.expander(f"The stream: {result.n_text} text tokens + {result.n_image} image tokens = "
                 f"{result.n_text + result.n_image}"):
    st.caption("Each token's vector = its content (a word embedding or a patch projection) + a position embedding + "
               "a modality (token-type) embedding. ViLT draws the image tokens in a random order on every forward; "
               "the position column says which patch each one is.")
    st.dataframe(arrow_table(result.stream_rows()), key="fusion_stream", height=260)

formulas_at(PAGE.name, "matrix")
layer, head = layer_head_selectors(n_layers, n_heads, key=PAGE.keys)
matrix_stream = select(result.attentions, layer, head)  # (S, S) in ViLT's own (shuffled) token order
order = result.reading_order()  # ViLT shuffles its patches; show them row by row
matrix = matrix_stream[np.ix_(order, order)]
tokens = [result.tokens[i] for i in order]
boundary = result.n_text - 0.5
st.plotly_chart(attention_matrix(matrix, tokens, tokens, title="Joint self-attention (patches in reading order)",
                                 boundaries=[("x", boundary), ("y", boundary)], height=560,
                                 block_labels=block_label_positions(result.n_text, result.n_image)),
                key="joint_attention", config=chart_config(f"early-fusion_layer-{layer}_head-{head}"))
blocks = result.blocks(matrix)
st.caption(
    f"{result.n_text} text tokens + {result.n_image} image tokens (1 image CLS + {result.n_image - 1} patches). "
    "The blue lines split the four blocks; share of attention per block (rows are queries): "
    + ", ".join(f"{name} {block.sum() / matrix.sum():.0%}" for name, block in blocks.items())
)
export_matrix(matrix, tokens, tokens, f"early-fusion_layer-{layer}_head-{head}", key="fusion_export",
              corner="query \\ key", layer=str(layer), head=str(head), question=question, pack=inputs.pack,
              n_text=str(result.n_text))

st.plotly_chart(mass_chart(result.modality_mass,
                           title="How much each modality reads the other, layer by layer"), key="cross_modal_mass")
st.caption("text->image: the share of a text token's attention that goes to image tokens (mean over text tokens); "
           "image->text: the share of an image token's attention that goes to text tokens. Dots are single heads.")

left, right = st.columns(2)
with left:
    text_options = list(range(result.n_text))
    text_token = st.segmented_control("Text token", text_options, default=naming_token(result.tokens[:result.n_text]),
                                      key=PAGE.key("token"), format_func=lambda i: result.tokens[i])
    text_token = naming_token(result.tokens[:result.n_text]) if text_token is None else text_token
    st.plotly_chart(patch_overlay(result.model_image, result.patch_size, result.grid,
                                  result.text_to_patches(matrix_stream, text_token),
                                  title=f"Where “{result.tokens[text_token]}” looked in the image"),
                    key="fusion_token_heatmap")
with right:
    rows, cols = result.grid
    st.markdown("**Which words does a patch read?** Click a patch.")
    clickable_patch_grid(result.model_image, result.grid, state_key=PAGE.key("patch"), click_key="fusion_patch_click")
    r, c = divmod(st.session_state.get(PAGE.key("patch"), 0), cols)
    st.plotly_chart(token_bars(result.patch_to_text(matrix_stream, r, c), result.tokens[:result.n_text],
                               title=f"Attention from patch p({r},{c}) to the text"), key="fusion_patch_tokens")
deep_link.publish(layer=layer, head=head, token=text_token, patch=st.session_state.get(PAGE.key("patch")),
                  predict=True if st.session_state.get(PAGE.key("predict")) else None)

if st.toggle("Compare the three fusion designs on this input", key="fusion_designs"):
    fusion_designs_view(models.fusion_designs_compare(inputs.pack, image_png, question), key="designs")
