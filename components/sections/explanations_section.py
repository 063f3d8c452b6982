"""Cross-attention: four explanation methods side by side for the chosen token, and how faithful each one is
(deletion and insertion curves against a random order and, on a shapes scene, the true object)."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from components.figures.patch_overlay import patch_overlay
from components.service import explanations
from core.analysis import deletion, faithfulness_table
from core.analysis.relevancy import METHOD_CLAIMS, METHOD_TITLES
from core.concepts.cross_attention import CrossAttentionResult

DASHES = {deletion.RANDOM: "dot", deletion.OBJECT_MASK: "dash"}
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f", "#111111")  # methods, then random, then oracle


def _curves_figure(result: deletion.Faithfulness) -> go.Figure:
    figure = go.Figure()
    for column, kind in enumerate(("deletion", "insertion")):
        for index, curve in enumerate(result.curves):
            figure.add_scatter(x=curve.fractions, y=getattr(curve, kind), mode="lines+markers",
                               xaxis=("x", "x2")[column], yaxis=("y", "y2")[column],
                               name=METHOD_TITLES.get(curve.label, curve.label),
                               legendgroup=curve.label, showlegend=column == 0,
                               line=dict(dash=DASHES.get(curve.label, "solid"), color=COLOURS[index % len(COLOURS)]))
    axis = dict(range=[0, 1], title="fraction of patches hidden", rangemode="tozero")
    figure.update_layout(
        height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.3),
        xaxis=dict(axis, domain=[0, 0.46]), xaxis2=dict(axis, domain=[0.54, 1], title="fraction of patches shown"),
        yaxis=dict(title=f"P(“{result.answer}”)", range=[0, 1.02]), yaxis2=dict(range=[0, 1.02], anchor="x2"),
        annotations=[dict(text=t, x=x, y=1.08, xref="paper", yref="paper", showarrow=False, xanchor="center")
                     for t, x in (("Deletion: lower is better", 0.23), ("Insertion: higher is better", 0.77))])
    return figure


def _held_out_frame(table: faithfulness_table.FaithfulnessTable) -> dict[str, list]:
    rows = table.rows()
    interval = lambda m: f"{m.low:.3f} to {m.high:.3f}"  # noqa: E731
    beats = lambda r, kind: "-" if r.label == deletion.RANDOM else r.beats_random_share(kind)  # noqa: E731
    return {"order": [METHOD_TITLES.get(r.label, r.label) for r in rows],
            "deletion area (lower: more faithful)": [round(r.deletion.mean, 3) for r in rows],
            "deletion 95% interval": [interval(r.deletion) for r in rows],
            "insertion area (higher: more faithful)": [round(r.insertion.mean, 3) for r in rows],
            "insertion 95% interval": [interval(r.insertion) for r in rows],
            "beats random (deletion)": [beats(r, "deletion") for r in rows],
            "beats random (insertion)": [beats(r, "insertion") for r in rows]}


def held_out_faithfulness(pack: str) -> None:
    """The same curves on held-out shapes scenes, per model: which method is most faithful, with 95% intervals."""
    st.markdown("##### Which method is most faithful? The same test on held-out scenes")
    if pack != "bundled":
        st.caption("The held-out table needs the shapes world's ground truth: it runs on the bundled models.")
        return
    scenes = st.segmented_control("Held-out scenes", explanations.TABLE_SCENES, default=explanations.TABLE_SCENES[0],
                                  key="cross_faith_scenes") or explanations.TABLE_SCENES[0]
    if not st.toggle(f"Measure on {scenes} held-out scenes, for BLIP and for ViLT", key="cross_faith_table",
                     help=f"About {15 * scenes // 100}-{30 * scenes // 100} s per model the first time (measured "
                          "on 2 busy CPU cores); cached for every session afterwards."):
        return
    st.markdown("Every scene asks *what color is the <shape>?* about one of two objects; each method's map at the "
                "shape word orders the patches, as above. Areas are means over scenes with their 95% t-interval; "
                "*beats random* is the share of scenes where the method's area beat the random order's on that "
                "scene (95% Wilson interval). The object mask is the oracle: the named object's patches first.")
    for role in faithfulness_table.MODELS:
        table = explanations.held_out_faithfulness(pack, role, scenes)
        st.markdown(f"**{table.model}**: {table.scenes} scenes, its own answer right in {table.accuracy()}")
        st.dataframe(_held_out_frame(table), key=f"cross_faith_{role}", hide_index=True)
        st.caption(" ".join(f"{v.sentence()[0].upper()}{v.sentence()[1:]}."
                            for v in (table.verdict("deletion"), table.verdict("insertion"))))


def explanations_section(pack: str, image_png: bytes, image_name: str, result: CrossAttentionResult, layer, head,
                         token: int) -> None:
    # Off until asked: one extra forward + backward for the maps, ~100 batched forwards for the curves.
    if not st.toggle("Compare explanation methods", key="cross_explain",
                     help="One forward and backward pass for the maps, then about 100 forwards for the curves."):
        return
    explained = explanations.explanations(pack, image_png, result.question)
    maps = explained.maps(layer, head)
    st.markdown(f"Four answers to *which patches did “{result.tokens[token]}” use for “{explained.answer}”?* "
                "Each map has its own colour scale (their units differ); compare where they point, not how bright.")
    for column, (method, values) in zip(st.columns(len(maps)), maps.items()):
        column.plotly_chart(patch_overlay(result.patches, result.patches.on_grid(values[token]),
                                          title=METHOD_TITLES[method], value_label="relevance"),
                            key=f"cross_explain_{method}")
        column.caption(METHOD_CLAIMS[method])
    curves = explanations.faithfulness_curves(pack, image_png, result.question, image_name, layer, head, token)
    st.plotly_chart(_curves_figure(curves), key="cross_explain_curves")
    st.dataframe({"order": [METHOD_TITLES.get(c.label, c.label) for c in curves.curves],
                  "deletion area (lower: more faithful)": [round(c.deletion_area, 3) for c in curves.curves],
                  "insertion area (higher: more faithful)": [round(c.insertion_area, 3) for c in curves.curves]},
                 key="cross_explain_areas")
    st.caption(f"P(answer) with nothing hidden: {curves.p_original:.1%}. Points at "
               f"{', '.join(str(int(c)) for c in curves.curves[0].counts)} of {result.patches.n_patches} patches; "
               "random: mean of 3 orders" + ("; object mask: the named object's patches first (the oracle)."
                                             if curves.curves[-1].label == deletion.OBJECT_MASK else "."))
    held_out_faithfulness(pack)
