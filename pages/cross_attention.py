import streamlit as st

from components import deep_link, models
from components.attention_matrix import attention_matrix
from components.caption_view import caption_view
from components.clickable_grid import clickable_patch_grid
from components.export import chart_config, export_matrix
from components.grounding_frame import grounding_frame
from components.inputs import current, require_image, require_text
from components.layer_head import layer_head_selectors
from components.lesson import lesson_intro
from components.patch_overlay import patch_overlay
from components.pictures import picture_png
from components.predict_reveal import patch_question, predict_toggle
from components.presets import preset_buttons
from components.qkv_panel import qkv_panel
from components.step_through import step_through
from components.token_bars import token_bars
from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN, select
from core.concepts.cross_attention import naming_token
from core.inputs.text_limits import escape_markdown
from core.classroom.page_table import page

PAGE = page("cross-attention")
st.title("Cross-attention: the question looks at the image")
lesson_intro(PAGE.name)
preset_buttons(PAGE.name)
inputs = current()
image_png = require_image(inputs)
ASK, CAPTION = "Ask a question", "Caption the image"
mode = st.segmented_control("Mode", [ASK, CAPTION], default=ASK, key="cross_mode") or ASK
if mode == CAPTION:
    st.markdown("BLIP's captioning decoder writes one word at a time; at every step its cross-attention reads the "
                "patches again.")
    caption_view(models.caption(inputs.pack, image_png))
    st.stop()

question = require_text(inputs)
result = models.ask(inputs.pack, image_png, question)
n_layers, n_heads = result.cross_attentions.shape[:2]
rows, cols = result.grid
linked = deep_link.apply_view(PAGE.name, [LAYER_MEAN, *range(n_layers)], [HEAD_MEAN, HEAD_MAX, *range(n_heads)],
                              n_tokens=len(result.tokens), n_patches=rows * cols)
if linked and linked.patch is not None:  # the link's patch stays (below, a new view would start at the top patch)
    st.session_state["cross_patch_for"] = (inputs.image_name, question,
                                           st.session_state.get(PAGE.key("token"), naming_token(result.tokens)))
if predict_toggle(PAGE.keys):
    word = naming_token(result.tokens)
    patch_question(PAGE.key("q"), f"Which patch will the word “{result.tokens[word]}” look at most (last layer, "
                   "mean over heads)? Click it on the image.", result.model_image, result.grid,
                   select(result.token_patch_matrix, n_layers - 1, HEAD_MEAN)[word],
                   (inputs.pack, inputs.image_name, question))

st.subheader(f"Answer: {result.answer or '(empty)'}")
st.caption(f"Question: “{escape_markdown(result.question)}” · answer probability {result.answer_probability:.1%}")

layer, head = layer_head_selectors(n_layers, n_heads, key=PAGE.keys, allow_layer_mean=True)
matrix = select(result.token_patch_matrix, layer, head)  # (T, N)
patch_labels = [f"p({r},{c})" for r in range(rows) for c in range(cols)]

token_options = list(range(len(result.tokens)))
default_token = naming_token(result.tokens)
token = st.segmented_control("Token", token_options, default=default_token, key=PAGE.key("token"),
                             format_func=lambda i: result.tokens[i])
token = default_token if token is None else token

left, right = st.columns([3, 2])
stem = f"cross-attention_layer-{layer}_head-{head}"
matrix_figure = attention_matrix(matrix, result.tokens, patch_labels, title="Token x patch cross-attention",
                                 height=360)
left.plotly_chart(matrix_figure, key="token_patch_matrix", config=chart_config(stem))
right.plotly_chart(patch_overlay(result.model_image, result.patch_size, result.grid,
                                 matrix[token].reshape(rows, cols),
                                 title=f"Where “{result.tokens[token]}” looked"), key="token_heatmap",
                   config=chart_config(f"{stem}_{result.tokens[token]}"))
st.caption("Columns are patches in reading order; the weight on the image's CLS token is left out, so a row can "
           "sum to less than 1. Download the matrix with its token and patch labels (or hover a chart and use its "
           "camera button for a PNG):")
export_matrix(matrix, result.tokens, patch_labels, stem, key="cross_export", figure=matrix_figure,
              corner="token \\ patch", layer=str(layer), head=str(head), question=question, answer=result.answer,
              pack=inputs.pack)

with st.expander("Step through: image → patches → tokens → attention"):
    step_through(result, matrix, key="cross_steps")

st.markdown("**Which tokens looked at this patch?** Click a patch (or pick it below).")
if st.session_state.get("cross_patch_for") != (inputs.image_name, question, token):  # new view: start at the top patch
    st.session_state["cross_patch_for"] = (inputs.image_name, question, token)
    st.session_state[PAGE.key("patch")] = int(matrix[token].argmax())
left, right = st.columns([2, 3])
with left:
    clickable_patch_grid(result.model_image, result.grid, state_key=PAGE.key("patch"), click_key="cross_patch_click")
    patch = st.selectbox("Patch", range(len(patch_labels)), key=PAGE.key("patch"),
                         format_func=lambda i: patch_labels[i])
right.plotly_chart(token_bars(matrix[:, patch], result.tokens, title=f"Attention each token paid to {patch_labels[patch]}"),
                   key="patch_tokens")
deep_link.publish(layer=layer, head=head, token=token, patch=patch,
                  predict=True if st.session_state.get(PAGE.key("predict")) else None)

with st.expander("The math, with this model's real numbers"):
    math_layer = n_layers - 1 if layer == LAYER_MEAN else int(layer)
    math_head = head if isinstance(head, int) else 0
    if (math_layer, math_head) != (layer, head):
        st.caption(f"The formula runs one head of one layer: showing layer {math_layer}, head {math_head}.")
    qkv_panel(models.cross_attention_math(inputs.pack, image_png, question, math_layer, math_head, token),
              key="qkv")

if inputs.pack == "bundled" and st.toggle("Measure grounding on held-out shapes scenes", key="cross_grounding",
                                          help="About 5 s the first time; cached afterwards."):
    table = models.grounding_table(inputs.pack)
    st.markdown(
        f"In {table.scenes} held-out two-object scenes we ask *what color is the <shape>?* and check whether the "
        "shape word's cross-attention lands more on the named object than on the other one (**chance: 50%**). "
        "Nobody trained the attention to do this."
    )
    left, right = st.columns(2)
    left.dataframe(grounding_frame(table.naming_word), key="grounding_naming")
    left.caption("The naming word (e.g. *circle*), per layer and head.")
    right.dataframe(grounding_frame(table.most_object_token), key="grounding_most")
    right.caption("Whichever question token puts the most attention on the two objects.")

with st.expander("Is the attention faithful? Hide the patches and ask again"):
    st.markdown("Attention is **evidence, not proof**: a token can look at a patch the answer does not depend on. "
                "Test it: grey out the patches the selected token attended to most, and compare with greying out "
                "as many random patches.")
    k = st.slider("Patches to hide (k)", 1, min(16, len(patch_labels)), 4, key="cross_mask_k")
    # Off until asked: the test runs the model 7 more times, more than the rest of the page together.
    if st.toggle("Run the test (7 more forwards of the model)", key="cross_masking"):
        masking = models.masking_test(inputs.pack, image_png, question, layer, head, token, k)
        left, right = st.columns(2)
        left.image(picture_png(masking.top_masked_image, 260), width=260, output_format="PNG",
                   caption=f"top-{k} patches of “{result.tokens[token]}” hidden")
        right.metric(f"P(“{masking.answer}”) as asked", f"{masking.p_original:.1%}")
        right.metric(f"… with the top-{k} attended patches hidden", f"{masking.p_top_masked:.1%}",
                     delta=f"{masking.p_top_masked - masking.p_original:+.1%}")
        right.metric(f"… with {k} random patches hidden (mean of 5)", f"{masking.p_random_masked:.1%}",
                     delta=f"{masking.p_random_masked - masking.p_original:+.1%}")
