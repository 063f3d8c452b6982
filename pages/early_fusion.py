import numpy as np
import streamlit as st

from components.figures.mass_chart import mass_chart
from components.sections.answer_section import answer_section
from components.sections.cost_readout import cost_readout
from components.sections.explorer_section import fusion_explorer
from components.sections.fusion_designs_view import fusion_designs_view
from components.sections.fusion_explanations import fusion_explanations_section
from components.sections.fusion_readers import fusion_readers
from components.sections.joint_attention_section import joint_attention_section
from components.sections.lesson import formulas_at, lesson_intro
from components.sections.stream_section import stream_section
from components.service import models
from components.widgets import deep_link
from components.widgets.inputs import current, require_image, require_text
from components.widgets.layer_head import layer_head_selectors
from components.widgets.predict_reveal import choice_question, predict_toggle
from components.widgets.presets import preset_buttons
from core.attention import HEAD_MAX, HEAD_MEAN, select
from core.classroom.page_table import page
from core.classroom.prediction import SHARE_BINS

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
                     n_tokens=result.n_text, n_patches=result.patches.n_patches)
if predict_toggle(PAGE.keys):
    choice_question(PAGE.key("q"), "In the last layer, what share of a text token's attention goes to the image "
                    "tokens (mean over text tokens and heads)?", SHARE_BINS,
                    float(result.modality_mass.text_to_image[-1].mean()),
                    (inputs.pack, inputs.image_name, question))

answer, score = result.top_answers[0]
answer_section(answer, score, image_png, inputs.pack, select(result.text_to_patch_maps().weights, n_layers - 1,
                                                              HEAD_MEAN), tokens=result.tokens[:result.n_text])
st.caption(" · ".join(f"{a} {s:.2f}" for a, s in result.top_answers) + " (sigmoid scores, top 5)")
cost_readout(result.cost)

stream_section(result)

formulas_at(PAGE.name, "matrix")


@st.fragment  # a layer, head, token or patch change reruns only the matrix and its readers
def joint_attention_view() -> None:
    layer, head = layer_head_selectors(n_layers, n_heads, key=PAGE.keys)
    matrix_stream = select(result.attentions, layer, head)  # (S, S) in ViLT's own (shuffled) token order
    order = result.reading_order()  # ViLT shuffles its patches; show them row by row
    matrix = matrix_stream[np.ix_(order, order)]
    tokens = [result.tokens[i] for i in order]
    joint_attention_section(result, matrix, tokens, layer, head, question, inputs.pack)

    st.plotly_chart(mass_chart(result.modality_mass,
                               title="How much each modality reads the other, layer by layer"), key="cross_modal_mass")
    st.caption("text->image: the share of a text token's attention that goes to image tokens (mean over text tokens); "
               "image->text: the share of an image token's attention that goes to text tokens. Dots are single heads.")

    text_token = fusion_readers(result, matrix_stream, PAGE)
    fusion_explanations_section(inputs.pack, image_png, question, layer, head, text_token)
    deep_link.publish(layer=layer, head=head, token=text_token, patch=st.session_state.get(PAGE.key("patch")),
                      predict=True if st.session_state.get(PAGE.key("predict")) else None)


joint_attention_view()
fusion_explorer(result, PAGE)

if st.toggle("Compare the three fusion designs on this input", key="fusion_designs"):
    fusion_designs_view(models.fusion_designs_compare(inputs.pack, image_png, question), key="designs")
