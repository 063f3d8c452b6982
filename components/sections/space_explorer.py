"""The CLIP page's map of the space: a projection method and dimension, the centring toggle, the plot with
thumbnails, and the nearest neighbours of one chosen item (picked in a list, or by drawing a box around it)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.figures.projection_plot import projection_plot, selected_item, thumbnail_uri
from components.service import clip_source
from components.widgets.export import chart_config
from core.concepts import projections
from core.concepts.clip_space import ClipSpace, nearest
from core.concepts.contrastive import centre_each_modality
from core.concepts.gallery import GalleryItem

POINT_KEY, LAST_PICK_KEY, PLOT_KEY = "clip_point", "_clip_last_pick", "projection"


def _follow_box_selection(point_labels: list[str], n_images: int) -> None:
    """A box or lasso drawn on the last run picks its first point: copy it into the list before the list is drawn."""
    picked = selected_item(st.session_state.get(PLOT_KEY, {}).get("selection"))
    if picked is not None and picked != st.session_state.get(LAST_PICK_KEY):
        st.session_state[LAST_PICK_KEY] = picked
        st.session_state[POINT_KEY] = point_labels[picked[1] + (n_images if picked[0] == "caption" else 0)]


def space_explorer(space: ClipSpace, items: list[GalleryItem], captions: list[str]) -> go.Figure:
    """Draws the section; returns the projection figure (for export)."""
    n_images, pairs_n = len(items), min(len(items), len(captions))
    left, middle, right = st.columns(3)
    method = left.segmented_control("Projection", projections.METHODS, default="PCA", key="clip_projection") or "PCA"
    dims = 3 if middle.segmented_control("Dimensions", ["2D", "3D"], default="2D", key="clip_dims") == "3D" else 2
    centred = right.toggle("Centre each modality (close the modality gap)", key="clip_centre",
                           help="Images and captions sit in two separate cones of the shared space. Subtracting "
                                "each modality's own centroid removes that offset, and matched pairs come together.")
    image_points, text_points = (centre_each_modality(space.image_embeds, space.text_embeds) if centred
                                 else (space.image_embeds, space.text_embeds))
    projection = clip_source.project(np.vstack([image_points, text_points]), method, dims)
    if projection.note:
        st.info(projection.note)

    point_labels = [f"image {i}: {item.name}" for i, item in enumerate(items)]
    point_labels += [f"caption {t}: {text}" for t, text in enumerate(captions)]
    _follow_box_selection(point_labels, n_images)
    choice = st.selectbox("Nearest neighbours of (or draw a box around a point in the 2-D plot)", point_labels,
                          key=POINT_KEY)
    index = point_labels.index(choice)
    kind, item_index = ("image", index) if index < n_images else ("caption", index - n_images)
    neighbours = nearest(space, kind, item_index, k=min(5, len(point_labels) - 1))

    coords = projection.coords
    figure = projection_plot(
        coords[:n_images], [item.name for item in items], coords[n_images:], captions,
        [(i, i) for i in range(pairs_n)], title=f"{projection.method} of image and caption embeddings",
        thumbnails=[thumbnail_uri(item.png) for item in items],
        image_captions=captions[:n_images] + [""] * max(0, n_images - len(captions)),
        chosen=(kind, item_index), neighbours=[(n.kind, n.index) for n in neighbours],
        axis_label="PC" if projection.method == "PCA" else projection.method)
    st.plotly_chart(figure, key=PLOT_KEY, on_select="rerun", selection_mode=("box", "lasso"),
                    config=chart_config("clip-space_projection"))
    st.caption(("The toggle has removed the modality gap (drawn below). " if centred else "") +
               "t-SNE and UMAP keep neighbourhoods, not distances: read only who sits next to whom.")
    st.markdown(f"**Nearest to {kind} {item_index}** (cosine in the full {space.image_embeds.shape[1]}-dimensional "
                "space, not in the picture):")
    st.dataframe(pd.DataFrame([(n.kind, n.index, n.label, round(n.cosine, 3)) for n in neighbours],
                              columns=["kind", "index", "item", "cosine"]), hide_index=True, key="clip_neighbours")
    return figure
