"""Predict, then reveal: the page asks a question and hides the model's answer until the student commits a guess.

A page calls `predict_toggle(prefix)` (off by default; a link or preset can turn it on), then one question:
`patch_question` (click the patch you expect), `choice_question` (pick a range) or `option_question` (pick
what the model will choose, e.g. the caption CLIP ranks first). While the guess is not
committed the question calls st.stop(), so nothing below it (the answer, the heatmaps) is drawn. After the reveal
the verdict stays on top and the page carries on. A new image or text asks again.
"""
from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw
from streamlit_image_coordinates import streamlit_image_coordinates

from components.widgets.clickable_grid import SHOWN_PX, gridded_picture, patch_box
from core.attention.patch_grid import PatchGrid
from core.classroom.prediction import Bins, grade_choice, grade_option, grade_patch

GUESS, TRUTH = (0, 212, 255), (255, 0, 200)  # cyan and magenta, each in a black frame: readable on any object


def predict_toggle(prefix: str) -> bool:
    return st.toggle("Predict first", key=f"{prefix}_predict",
                     help="Classroom mode: the page asks a question and hides the answer until you commit a guess.")


def _fresh(key: str, asked_about: tuple) -> None:
    """Forget the guess when the question changes (a new image, text or pack)."""
    if st.session_state.get(f"{key}_for") != asked_about:
        st.session_state[f"{key}_for"] = asked_about
        _forget(key)


def _picture(image: np.ndarray, grid: tuple[int, int], guess: int | None, truth: tuple[int, ...] = ()) -> Image.Image:
    picture = gridded_picture(image, grid)
    draw = ImageDraw.Draw(picture)

    def outline(patch: int, colour: tuple[int, int, int], inset: int) -> None:
        """A coloured frame inside a black one, so it reads on any object's colour (a light frame on a yellow square)."""
        box = patch_box(picture, grid, patch, inset)
        draw.rectangle(box, outline=(0, 0, 0), width=5)
        draw.rectangle([box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1], outline=colour, width=3)

    for patch in truth:
        outline(patch, TRUTH, 0)
    if guess is not None:
        outline(guess, GUESS, 6)
    return picture


def _commit_row(key: str, guess, what: str) -> None:
    """The Reveal button: it commits the guess (kept under {key}_committed, which outlives the guess widget)."""
    def reveal() -> None:
        st.session_state[f"{key}_committed"] = guess
        st.session_state[f"{key}_revealed"] = True

    left, right = st.columns([1, 3])
    left.button("Reveal", key=f"{key}_reveal", type="primary", disabled=guess is None, on_click=reveal,
                icon=":material/visibility:")
    right.caption(what if guess is not None else "Make your guess first: the answer is hidden until you do.")


def _forget(key: str) -> None:
    for name in ("guess", "committed"):
        st.session_state.pop(f"{key}_{name}", None)
    st.session_state[f"{key}_revealed"] = False


def _again(key: str) -> None:
    st.button("Ask me again", key=f"{key}_again", icon=":material/replay:", on_click=_forget, args=(key,))


def patch_question(key: str, prompt: str, patches: PatchGrid, values: np.ndarray, asked_about: tuple) -> None:
    """Ask which patch `values` ((rows, cols) or (N,) attention) is highest on; stop the page until revealed.

    key: a prefix for this question's state; asked_about: what the question depends on (image, text, pack...)."""
    image, grid = patches.image, patches.shape
    _fresh(key, asked_about)
    guess = st.session_state.get(f"{key}_guess")
    with st.container(border=True, key=f"{key}_box"):
        st.markdown(f"**Predict:** {prompt}")
        if not st.session_state[f"{key}_revealed"]:
            def on_click() -> None:
                click = st.session_state.get(f"{key}_click")
                if click:
                    st.session_state[f"{key}_guess"] = patches.index_at(click["x"], click["y"], click["width"],
                                                                        click["height"])

            streamlit_image_coordinates(_picture(image, grid, guess), key=f"{key}_click", on_click=on_click,
                                        cursor="crosshair")
            _commit_row(key, guess, f"Your guess: {patches.labels()[guess]}. Click another patch to change it."
                        if guess is not None else "")
            st.stop()
        guess = st.session_state[f"{key}_committed"]
        verdict = grade_patch(values, guess)
        (st.success if verdict.hit else st.info)(verdict.sentence)
        left, right = st.columns([1, 1])
        left.image(_picture(image, grid, guess, verdict.top), width=SHOWN_PX,
                   caption="cyan: your guess · magenta: the model's top patches")
        with right:
            _again(key)


def choice_question(key: str, prompt: str, bins: Bins, value: float, asked_about: tuple) -> None:
    """Ask which of `bins` the number `value` falls in; stop the page until revealed."""
    _fresh(key, asked_about)
    with st.container(border=True, key=f"{key}_box"):
        st.markdown(f"**Predict:** {prompt}")
        if not st.session_state[f"{key}_revealed"]:
            guess = st.radio("Your guess", bins.labels, index=None, key=f"{key}_guess", horizontal=True)
            _commit_row(key, guess, f"Your guess: {guess}." if guess else "")
            st.stop()
        verdict = grade_choice(value, st.session_state[f"{key}_committed"], bins)
        (st.success if verdict.hit else st.info)(verdict.sentence)
        _again(key)


def option_question(key: str, prompt: str, options: list[str], scores, asked_about: tuple) -> None:
    """Ask which of `options` the model scores highest (scores: one number per option); stop the page until
    revealed. For the CLIP page: options = captions, scores = the image's similarity to each."""
    _fresh(key, asked_about)
    with st.container(border=True, key=f"{key}_box"):
        st.markdown(f"**Predict:** {prompt}")
        if not st.session_state[f"{key}_revealed"]:
            guess = st.radio("Your guess", options, index=None, key=f"{key}_guess")
            _commit_row(key, guess, f"Your guess: {guess}." if guess else "")
            st.stop()
        verdict = grade_option(list(options), scores, st.session_state[f"{key}_committed"])
        (st.success if verdict.hit else st.info)(verdict.sentence)
        _again(key)
