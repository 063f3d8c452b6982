"""The linked attention explorer: one components-v2 element that gets every layer's and head's attention once and
then answers hovers, layer and head switches and the keyboard in the browser, with no script rerun.

Hover a token (a word chip or a matrix row): its row lights up in the token x key matrix and its heatmap is painted
over the image. Hover a patch (on the image or a matrix column): the column lights up and each token's chip shows
how much it looked there. The layer and head pills switch the view (mean/max over heads, mean over layers); every
head of the chosen layer is drawn small, sorted by entropy, and a click on one shows it. A layer x head grid colours
one number per head (entropy, mean distance or cross-modal mass, computed once per result in attention_payload);
hovering a cell previews that head's map, clicking it shows and pins it. Given `reverse` maps too (early fusion:
each patch's attention over the words), two buttons switch the direction in the browser: "image → text" keeps the
words as chips and the patches on the image, but a patch's hover shows its own row (bars: how much THAT patch
looked at each word) and a word's hover paints its column (how much each patch looked at that word).
A click (a tap, Enter) pins a selection
and sends it to Python: that is the only rerun. Colours: Viridis, scaled to the view's max, so a hover never
rescales.

Drawing: attention_explorer.js / .css beside this file (inline, no build step, nothing from another host).
Payload: components/figures/attention_payload.py (uint8 with a per-view scale, raw bytes).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from components.figures.attention_payload import DIRECTIONS, encode
from components.figures.patch_overlay import COLORSCALE_STOPS
from components.figures.value_cache import value_cached
from core.attention import Reduce

HERE = Path(__file__).resolve().parent
JS = (HERE / "attention_explorer.js").read_text().replace("__VIRIDIS__", json.dumps(COLORSCALE_STOPS))
CSS = (HERE / "attention_explorer.css").read_text()
_COMPONENT = st.components.v2.component("attention_explorer", css=CSS, js=JS)
STATE = "selection"  # the component's state value: the pinned {layer, head, query, key[, direction]}
FIELDS = ("layer", "head", "query", "key")


@value_cached(maxsize=8)  # a rerun (a pin, any other widget) sends the same bytes: encode them once
def _payload(maps: np.ndarray, query_labels: list[str], key_grid, image, title: str, selected_json: str,
             name: str, reverse: np.ndarray | None = None) -> bytes:
    return encode(maps, query_labels, key_grid, image, title, json.loads(selected_json), name=name, reverse=reverse)


def _plain(selected: dict | None) -> dict | None:
    """A selection as JSON values: ints, or "mean"/"max" (Reduce is a str enum; numpy ints become ints)."""
    if not selected:
        return None
    out = {}
    for name in FIELDS:
        value = selected.get(name)
        if value is None:
            continue
        out[name] = str(value) if isinstance(value, str) else int(value)
    if selected.get("direction") in DIRECTIONS:
        out["direction"] = str(selected["direction"])
    return out


def _typed(selection) -> dict | None:
    """The browser's selection in core.attention.select's terms: "mean"/"max" as Reduce, indices as int."""
    if not isinstance(selection, dict):
        return None
    out = {}
    for name in FIELDS:
        value = selection.get(name)
        out[name] = None if value is None else Reduce(value) if isinstance(value, str) else int(value)
    if selection.get("direction") in DIRECTIONS:
        out["direction"] = selection["direction"]
    return out


def _pinned_before(key: str) -> dict | None:
    try:
        state = st.session_state[key]
    except (KeyError, AttributeError):
        return None
    value = state.get(STATE) if hasattr(state, "get") else getattr(state, STATE, None)
    return _plain(value) if isinstance(value, dict) else None


def attention_explorer(maps: np.ndarray, query_labels: list[str], key_grid: tuple[int, int] | None,
                       image: np.ndarray | None, key: str, selected: dict | None = None,
                       title: str = "", on_pin: Callable[[dict], None] | None = None,
                       reverse: np.ndarray | None = None) -> dict | None:
    """Show the explorer; return the pinned selection {layer, head, query, key} (None until a first pin).

    maps: (layers, heads, queries, keys), each row a query's weights over the keys. key_grid: (rows, cols) when the
    keys are image patches in reading order (CLS already dropped: rows * cols == keys); None draws the keys as a
    1-D strip (audio frames). image: (H, W, 3) uint8 under the heatmap, or None. selected: the view to open with
    (a shared link's layer, head, token and patch); layer/head take ints or "mean"/"max". on_pin: called with the
    new selection when the user pins, before the script reruns (put it into the page's own widget keys there).
    reverse: (layers, heads, keys, queries), the keys reading the queries (early fusion: each patch's weights over
    the words); the explorer then offers both directions, and a selection also carries "direction" ("text->image"
    or "image->text"). Its query and key still name the chip (a word) and the grid's key (a patch) in either
    direction, so a page's token and patch widgets follow a pin whatever the direction.

    The payload changes only when the result or an outside `selected` changes, so a pin's rerun (the page passing
    the pinned selection back in) sends a hash reference, not the maps again."""
    wanted = _plain(selected)
    sent_key = f"_aex_sent_{key}"
    sent = st.session_state.get(sent_key, wanted)
    if wanted is not None and wanted != sent and wanted != _pinned_before(key):
        sent = wanted  # a new view from outside (a link, a preset): move the explorer there
    st.session_state[sent_key] = sent
    grid = None if key_grid is None else (int(key_grid[0]), int(key_grid[1]))
    payload = _payload(np.asarray(maps), [str(s) for s in query_labels], grid, image, title,
                       json.dumps(sent or {}, sort_keys=True), key, None if reverse is None else np.asarray(reverse))
    def pinned() -> None:
        if on_pin is not None and (selection := _typed(_pinned_before(key))) is not None:
            on_pin(selection)

    result = _COMPONENT(key=key, data=payload, default={STATE: None}, on_selection_change=pinned)
    return _typed(getattr(result, STATE, None))
