import streamlit as st

from components.sections.cls_explanations import cls_explanations_section
from components.sections.cost_readout import cost_readout
from components.sections.explorer_section import explorer_for
from components.sections.lesson import formulas_at, lesson_intro
from components.sections.object_section import object_section
from components.sections.patch_attention_section import patch_attention_section
from components.sections.patch_sequence_section import patch_sequence_section
from components.sections.patch_vector_section import patch_vector_section
from components.sections.positions_section import positions_section
from components.sections.rollout_section import rollout_section
from components.service import models
from components.widgets import deep_link
from components.widgets.inputs import current, require_image
from components.widgets.layer_head import layer_head_selectors
from components.widgets.predict_reveal import patch_question, predict_toggle
from components.widgets.presets import preset_buttons
from components.widgets.vision_choice import vision_choice
from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN
from core.classroom.page_table import page
from core.inputs.images import sample_scene

PAGE = page("patches")
st.title("Patching: from pixels to a sequence of patch vectors")
lesson_intro(PAGE.name)
preset_buttons(PAGE.name)
inputs = current()
image_png = require_image(inputs)
photo = sample_scene(inputs.image_name) is None
choice = vision_choice(PAGE, inputs.pack, photo)
view = models.vision_view(inputs.pack, image_png, choice.role, choice.side)
cost_readout(view.cost)
st.sidebar.caption(f"Vision model on this page: {models.live_weights(inputs.pack, choice.role)}")
n_layers, n_heads = view.attentions.shape[:2]
deep_link.apply_view(PAGE.name, [LAYER_MEAN, *range(n_layers)], [HEAD_MEAN, HEAD_MAX, *range(n_heads)],
                     n_patches=view.n_patches)
if predict_toggle(PAGE.keys):
    patch_question(PAGE.key("q"), "Where will the CLS token look in the last layer (mean over heads)? Click the "
                   "patch you expect to get the most attention.", view.patches,
                   view.cls_to_patches(n_layers - 1, HEAD_MEAN).ravel(), (inputs.pack, inputs.image_name, choice.key))

patch_sequence_section(view)
patch = patch_vector_section(view, PAGE)
positions_section(view)


@st.fragment  # a layer or head change reruns only this section (bench/browser_rerun.py measures the gain)
def attention_between_patches(patch: int) -> None:
    st.header("4. Attention between patches")
    layer, head = layer_head_selectors(n_layers, n_heads, key=PAGE.keys, allow_layer_mean=True)
    patch_attention_section(view, layer, head, patch, inputs.pack, inputs.image_name)
    deep_link.publish(layer=layer, head=head, patch=patch,
                      predict=True if st.session_state.get(PAGE.key("predict")) else None)


attention_between_patches(patch)
explorer_for(view.cls_maps(), key=PAGE.key("explorer"),
             title="Where CLS looks, every layer and head, in your browser")

formulas_at(PAGE.name, "rollout")
rollout_section(view)
cls_explanations_section(inputs, choice)
if view.features is not None:
    object_section(view, inputs.image_name, models.image_size(image_png))
