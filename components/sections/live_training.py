"""The "train a mini-CLIP yourself" panel: a button, a progress bar, the loss curve and the probe set's projection
updating while core/shapes/live_clip.py trains, then the held-out zero-shot score. The trained model is kept in this
session only (components/service/clip_source.py) and can then drive the rest of the page."""
from __future__ import annotations

import threading
import uuid

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components.figures.projection_plot import projection_plot
from components.service.clip_source import LIVE_STATE, LiveRun
from core.concepts import projections
from core.shapes import held_out, live_clip

CONFIG = live_clip.LiveConfig()  # tests shrink it; the page reads it at call time
HELD_OUT_SCENES = 500
PROJECTION_EVERY = 5  # redraw the projection every 5th report: each redraw sends a figure to the browser
_ONE_AT_A_TIME = threading.Lock()  # a shared server has 2 cores: two students training at once would both crawl


def loss_figure(steps: list[int], losses: list[float], chance: float) -> go.Figure:
    fig = go.Figure(go.Scatter(x=steps, y=losses, mode="lines", name="InfoNCE (mean of last steps)"))
    fig.add_hline(y=chance, line=dict(dash="dot", color="grey"), annotation_text=f"chance ln(B) = {chance:.2f}")
    fig.update_layout(title="Training loss", xaxis_title="step", yaxis_title="loss", height=340,
                      margin=dict(l=10, r=10, t=40, b=10), showlegend=False)
    return fig


def _probe_figure(update: live_clip.LiveStep, captions: list[str]) -> go.Figure:
    n = len(captions)
    points = projections.pca(np.vstack([update.probe_image_embeds, update.probe_text_embeds]))
    return projection_plot(points[:n], [f"scene: {c}" for c in captions], points[n:], captions,
                           [(i, i) for i in range(n)], title=f"Probe set after {update.step} steps (PCA)",
                           image_captions=captions)


def _train(config: live_clip.LiveConfig) -> LiveRun:
    progress = st.progress(0.0, text="Starting…")
    left, right = st.columns(2)
    loss_slot, projection_slot = left.empty(), right.empty()
    steps: list[int] = []
    losses: list[float] = []
    captions = live_clip.probe_captions(config.probe_scenes)
    chance = float(np.log(config.batch_size))
    reports = 0

    def on_step(update: live_clip.LiveStep) -> None:
        nonlocal reports
        done = max(update.step / config.max_steps, update.seconds / config.max_seconds)
        progress.progress(min(1.0, done), text=f"step {update.step} · {update.seconds:.0f} s · "
                                               f"loss {update.loss:.3f}" if update.step else "step 0")
        if update.step:
            steps.append(update.step)
            losses.append(update.loss)
            loss_slot.plotly_chart(loss_figure(steps, losses, chance), key=f"live_loss_{update.step}")
        if reports % PROJECTION_EVERY == 0 or update.step == config.max_steps:
            projection_slot.plotly_chart(_probe_figure(update, captions), key=f"live_probe_{update.step}")
        reports += 1

    result = live_clip.train_live(config, on_step)
    progress.progress(1.0, text=f"Trained {result.steps} steps in {result.seconds:.0f} s. Testing on "
                                f"{HELD_OUT_SCENES} held-out scenes…")
    accuracy = held_out.clip_zero_shot(result.model, result.processor, held_out.test_seeds(HELD_OUT_SCENES))
    return LiveRun(uuid.uuid4().hex[:8], result.model, result.processor, result.steps, result.seconds, accuracy,
                   losses, steps)


def live_training_panel() -> None:
    config = CONFIG
    st.markdown(
        f"The bundled CLIP's architecture with **random weights**, trained here on one-object shapes scenes: "
        f"batches of {config.batch_size} images and their captions, the InfoNCE loss above, AdamW. It stops after "
        f"{config.max_steps} steps or {config.max_seconds:.0f} s, whichever comes first. The loss cannot reach 0: "
        "with 18 classes, a batch holds several images of the same class, and their captions are identical."
    )
    if st.button("Train a mini-CLIP from scratch", key="live_train", type="primary"):
        if not _ONE_AT_A_TIME.acquire(timeout=1):
            st.warning("Someone else is training a mini-CLIP on this server right now (2 CPU cores are shared). "
                       "Try again in a minute.")
            return
        try:
            run = _train(config)
        finally:
            _ONE_AT_A_TIME.release()
        st.session_state[LIVE_STATE] = run
        st.session_state["clip_use_live"] = True
        st.rerun()  # the top of the page now offers (and uses) the new model
    run: LiveRun | None = st.session_state.get(LIVE_STATE)
    if run is not None:
        left, right = st.columns([1, 2])
        left.metric("Zero-shot on held-out scenes", f"{run.zero_shot_accuracy:.1%}",
                    help=f"{HELD_OUT_SCENES} one-object scenes the model never saw, each classified among the "
                         "18 colour x shape prompts (chance 5.6%).")
        left.caption(f"Run {run.run_id}: {run.steps} steps in {run.seconds:.0f} s. Switch it on or off with "
                     "the toggle at the top of the page.")
        right.plotly_chart(loss_figure(run.loss_steps, run.losses, float(np.log(config.batch_size))),
                           key="live_loss_final")
