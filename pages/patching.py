import streamlit as st

from components import deep_link, models
from components.attention_matrix import attention_matrix
from components.clickable_grid import clickable_patch_grid
from components.export import chart_config, export_matrix
from components.inputs import current, require_image
from components.layer_head import layer_head_selectors
from components.lesson import formulas_at, lesson_intro
from components.patch_overlay import patch_overlay
from components.pictures import enlarged_png
from components.predict_reveal import patch_question, predict_toggle
from components.presets import preset_buttons
from components.token_bars import token_bars
from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN, select
from core.classroom.export import patch_labels
from core.attention.rollout import HEAD_FUSIONS
from core.classroom.page_table import page

PAGE = page("patches")
st.title("Patching: from pixels to a sequence of patch vectors")
lesson_intro(PAGE.name)
preset_buttons(PAGE.name)
inputs = current()
finer = inputs.pack == "hub" and st.toggle("Finer grid: 16 px patches (CLIP ViT-B/16, 14 x 14)", key="patching_16")
view = models.patch_view(inputs.pack, require_image(inputs), "clip16" if finer else "clip")
rows, cols = view.grid
height, width = view.model_image.shape[:2]
n_layers, n_heads = view.attentions.shape[:2]
deep_link.apply_view(PAGE.name, [LAYER_MEAN, *range(n_layers)], [HEAD_MEAN, HEAD_MAX, *range(n_heads)],
                     n_patches=view.n_patches)
if predict_toggle(PAGE.keys):
    patch_question(PAGE.key("q"), "Where will the CLS token look in the last layer (mean over heads)? Click the "
                   "patch you expect to get the most attention.", view.model_image, view.grid,
                   view.cls_to_patches(n_layers - 1, HEAD_MEAN).ravel(), (inputs.pack, inputs.image_name, finer))

st.header("1. What the model receives")
st.metric("Patches N = (H/P) x (W/P)", f"{view.n_patches} = {rows} x {cols}",
          help=f"{height} x {width} px image, P = {view.patch_size} px; the sequence is CLS + {view.n_patches} "
               f"patches = {view.n_patches + 1} tokens")
left, right = st.columns(2)
left.plotly_chart(patch_overlay(view.model_image, view.patch_size, view.grid, title="What the model sees"),
                  key="patch_grid")
with right:
    st.markdown(f"The image after resizing, cropping and normalising to {height} x {width} px. In reading order, "
                "the sequence starts:")
    first = [enlarged_png(view.patch_pixels(i), 48) for i in range(min(12, view.n_patches))]
    st.image(first, caption=[f"{i + 1}: p({i // cols},{i % cols})" for i in range(len(first))], width=48,
             output_format="PNG")
    st.caption("… preceded by the CLS token, which has no pixels: it only gathers from the patches.")

st.header("2. Patch → vector")
if PAGE.key("patch") not in st.session_state:
    st.session_state[PAGE.key("patch")] = view.n_patches // 2 + cols // 2
left, middle, right = st.columns(3)
with left:
    st.markdown("Click a patch:")
    clickable_patch_grid(view.model_image, view.grid, state_key=PAGE.key("patch"), click_key="patching_click")
patch = st.session_state[PAGE.key("patch")]
r, c = divmod(patch, cols)
middle.image(enlarged_png(view.patch_pixels(patch), 160), output_format="PNG",
             caption=f"p({r},{c}): {view.patch_size} x {view.patch_size} x 3 = {view.patch_size ** 2 * 3} numbers")
middle.plotly_chart(token_bars(view.patch_vectors[patch], [str(i) for i in range(view.patch_vectors.shape[1])],
                               title=f"… projected to {view.patch_vectors.shape[1]} numbers", value_label="value"),
                    key="patch_vector")
right.plotly_chart(patch_overlay(view.model_image, view.patch_size, view.grid, view.similar_patches(patch),
                                 title=f"Patches whose vector resembles p({r},{c})", value_label="cosine"),
                   key="similar_patches")
st.image(enlarged_png(view.pca_rgb(), width, height), width=260, output_format="PNG",
         caption="All patch vectors, their top 3 principal components shown as red, green, blue: similar colour, "
                 "similar vector.")

st.header("3. Positions")
st.plotly_chart(attention_matrix(view.position_similarity(), [f"r{i // rows}" for i in range(rows * rows)],
                                 [f"c{i // cols}" for i in range(cols * cols)], x_title="", y_title="",
                                 value_label="cosine", title="Each position's similarity to all others (tile (r, c) "
                                 "is position (r, c))", height=520),
                key="position_similarity")

st.header("4. Attention between patches")
layer, head = layer_head_selectors(n_layers, n_heads, key=PAGE.keys, allow_layer_mean=True)
attention = select(view.attentions, layer, head)  # (1 + N, 1 + N): the export's full matrix
cls_map = view.cls_to_patches(layer, head)  # (rows, cols)
left, right = st.columns(2)
left.plotly_chart(patch_overlay(view.model_image, view.patch_size, view.grid, cls_map,
                                title="CLS -> patch attention"), key="cls_attention",
                  config=chart_config(f"patching_cls_layer-{layer}_head-{head}"))
patch_map = view.patch_to_patches(patch, layer, head)  # (rows, cols)
right.plotly_chart(patch_overlay(view.model_image, view.patch_size, view.grid, patch_map,
                                 title=f"Where p({r},{c}) looks (click another patch above)"), key="patch_attention")
st.caption(f"CLS attention over patches sums to {cls_map.sum():.3f}; the rest ({1 - cls_map.sum():.3f}) goes to "
           "CLS itself. Download this layer and head's full attention matrix (CLS and every patch, with labels):")
token_labels = ["CLS"] + patch_labels(view.grid)
export_matrix(attention, token_labels, token_labels, f"patching_layer-{layer}_head-{head}", key="patching_export",
              corner="query \\ key", layer=str(layer), head=str(head), pack=inputs.pack, image=inputs.image_name)
deep_link.publish(layer=layer, head=head, patch=patch,
                  predict=True if st.session_state.get(PAGE.key("predict")) else None)

formulas_at(PAGE.name, "rollout")

left, right = st.columns(2)
fusion = left.selectbox("Rollout: fuse heads by", HEAD_FUSIONS, key="patching_fusion")
discard = right.slider("Rollout: discard the weakest share of weights", 0.0, 0.95, 0.0, 0.05, key="patching_discard")
rolled = view.rollout_into_cls(fusion, discard)  # (N,): how much each patch flows into the final CLS
left.plotly_chart(patch_overlay(view.model_image, view.patch_size, view.grid, rolled.reshape(rows, cols),
                                title="Attention rollout into CLS, all layers", value_label="rollout"),
                  key="rollout", config=chart_config("patching_rollout"))
distance = view.attention_distance()  # (L, H)
right.plotly_chart(attention_matrix(distance, [f"layer {i}" for i in range(n_layers)],
                                    [f"head {h}" for h in range(n_heads)], x_title="head", y_title="layer",
                                    value_label="pixels", title="Mean attention distance (local early, global late?)",
                                    height=420), key="attention_distance")
st.caption("Rollout multiplies the layers' attention (keeping the residual's half of each token) to follow the "
           "input patches into the final CLS; raw attention shows one layer only. Mean attention distance: how far, "
           f"in pixels of this {height} px image, a patch's attention reaches.")
