"""Figures built once for what they show, and shared read-only between reruns and sessions.

A widget that only changes the view (a layer, a head, a patch) reruns the whole page script, and st.plotly_chart
turns every figure on the page into JSON again: the builder makes a Figure, then Figure.to_dict() deep-copies each
trace and applies the template, then the JSON is encoded. That is 1-3 ms a figure even when nothing it shows has
changed, most of a rerun on a page with eight figures. Two things remove it:

- `plain_figure` builds a FrozenFigure from plain dicts without plotly.py's property-by-property validation, and a
  FrozenFigure computes its dict once (st.plotly_chart asks for it on every rerun);
- `@cached_figure` on a builder returns the same FrozenFigure for the same argument values (numpy arrays, labels,
  titles; see components/figures/value_cache.py): a layer change rebuilds only the figures that show that layer.

Because one object is shared, a FrozenFigure refuses the usual ways to change it; copy it first (go.Figure(fig)).
"""
from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go

from components.figures.value_cache import value_cached

FIGURES_PER_BUILDER = 64  # a few images x layers x heads per session; each figure is its dict (tens of KB)


class FrozenFigure(go.Figure):
    """A figure whose plain-dict form is computed once: it must not change after it is built."""

    def to_dict(self) -> dict:
        frozen = self.__dict__.get("_frozen_dict")
        if frozen is None:
            frozen = super().to_dict()
            self.__dict__["_frozen_dict"] = frozen
        return dict(frozen)  # a new top level, so that a caller replacing "layout" cannot touch the shared one

    def _refuse(self, *args, **kwargs):
        raise TypeError("this figure is shared between reruns (components/figures/frozen_figure.py): copy it with "
                        "go.Figure(fig) before changing it")

    update = update_layout = update_traces = add_trace = add_traces = add_shape = add_annotation = _refuse
    add_vline = add_hline = add_vrect = add_hrect = add_layout_image = __setitem__ = _refuse


def plain_figure(data: list[dict], layout: dict) -> FrozenFigure:
    """A figure from plain dicts, skipping plotly.py's property-by-property validation (`_validate=False`): the
    JSON is the same (tests/components/test_figures.py rebuilds each one with validation and compares), so write titles as
    dict(text=...)."""
    return FrozenFigure(data=data, layout=layout, _validate=False)


def cached_figure(builder: Callable[..., FrozenFigure]) -> Callable[..., FrozenFigure]:
    """Decorator for a figure builder that returns a plain_figure: the same argument values give the same figure
    object (components/figures/value_cache.py), shared by every session, which is safe because it cannot change."""
    return value_cached(FIGURES_PER_BUILDER)(builder)
