import streamlit as st

from components.sections.answer_section import answer_section
from components.sections.caption_mode import caption_mode
from components.sections.cost_readout import cost_readout
from components.sections.explanations_section import explanations_section
from components.sections.explorer_section import explorer_section
from components.sections.grounding_section import grounding_section
from components.sections.lesson import lesson_intro
from components.sections.masking_section import masking_section
from components.sections.patch_readers import patch_readers
from components.sections.qkv_section import qkv_section
from components.sections.robustness_section import robustness_section
from components.sections.step_through import step_through
from components.sections.token_patch_section import token_patch_section
from components.service import models
from components.widgets import deep_link
from components.widgets.inputs import current, require_image, require_text
from components.widgets.layer_head import layer_head_selectors
from components.widgets.predict_reveal import patch_question, predict_toggle
from components.widgets.presets import preset_buttons
from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN, select
from core.classroom.page_table import page
from core.concepts.cross_attention import naming_token

PAGE = page("cross-attention")
st.title("Cross-attention: the question looks at the image")
lesson_intro(PAGE.name)
preset_buttons(PAGE.name)
inputs = current()
image_png = require_image(inputs)
ASK, CAPTION = "Ask a question", "Caption the image"
mode = st.segmented_control("Mode", [ASK, CAPTION], default=ASK, key="cross_mode") or ASK
if mode == CAPTION:
    caption_mode(inputs.pack, image_png)
    st.stop()

question = require_text(inputs)
result = models.ask(inputs.pack, image_png, question)
n_layers, n_heads = result.cross_attentions.shape[:2]
linked = deep_link.apply_view(PAGE.name, [LAYER_MEAN, *range(n_layers)], [HEAD_MEAN, HEAD_MAX, *range(n_heads)],
                              n_tokens=len(result.tokens), n_patches=result.patches.n_patches)
if linked and linked.patch is not None:  # the link's patch stays (below, a new view would start at the top patch)
    st.session_state["cross_patch_for"] = (inputs.image_name, question,
                                           st.session_state.get(PAGE.key("token"), naming_token(result.tokens)))
if predict_toggle(PAGE.keys):
    word = naming_token(result.tokens)
    patch_question(PAGE.key("q"), f"Which patch will the word “{result.tokens[word]}” look at most (last layer, "
                   "mean over heads)? Click it on the image.", result.patches,
                   select(result.token_patch_matrix, n_layers - 1, HEAD_MEAN)[word],
                   (inputs.pack, inputs.image_name, question))

answer_section(result.answer or "(empty)", result.answer_probability, image_png, inputs.pack, select(
    result.token_patch_matrix, n_layers - 1, HEAD_MEAN), tokens=result.tokens, question=result.question)
cost_readout(result.cost)

layer, head = layer_head_selectors(n_layers, n_heads, key=PAGE.keys, allow_layer_mean=True)
matrix = select(result.token_patch_matrix, layer, head)  # (T, N)

default_token = naming_token(result.tokens)
token = st.segmented_control("Token", list(range(len(result.tokens))), default=default_token, key=PAGE.key("token"),
                             format_func=lambda i: result.tokens[i])
token = default_token if token is None else token

explorer_section(result, PAGE, (inputs.image_name, question), layer, head, token)

token_patch_section(result, matrix, layer, head, token, question, inputs.pack)

with st.expander("Step through: image → patches → tokens → attention"):
    step_through(result, matrix, key="cross_steps")

patch = patch_readers(result, matrix, PAGE, inputs.image_name, question, token)
deep_link.publish(layer=layer, head=head, token=token, patch=patch,
                  predict=True if st.session_state.get(PAGE.key("predict")) else None)

qkv_section(inputs.pack, image_png, question, n_layers, layer, head, token)
grounding_section(inputs.pack)
robustness_section(inputs.pack, PAGE.name)
masking_section(inputs.pack, image_png, question, result.tokens, result.patches.n_patches, layer, head, token)
explanations_section(inputs.pack, image_png, inputs.image_name, result, layer, head, token)
