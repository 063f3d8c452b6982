"""The Cross-attention page's shift table: every bundled model's held-out accuracy on every background, drawn from
the numbers core computes (n shrunk to a few scenes to keep it cheap)."""
from __future__ import annotations

import pytest

from components.sections.robustness_section import MODELS
from components.service import robustness
from core.shapes import held_out, shapes_world
from tests.models import bundled
from tests.pages.test_pages import open_page

SCENES = 12


@pytest.fixture
def few_scenes(monkeypatch):
    monkeypatch.setattr(robustness, "SHIFT_SCENES", (SCENES, 2 * SCENES))


def test_the_shift_table_shows_every_model_on_every_background_with_its_interval(few_scenes):
    at = open_page("pages/cross_attention.py")
    at.toggle(key="cross-attention_shift").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    (shown,) = [d.value for d in at.dataframe if "light blue" in d.value.columns]
    assert list(shown["model"]) == list(MODELS.values())
    assert list(shown.columns[1:]) == list(shapes_world.BACKGROUNDS) + [held_out.PHRASED]
    seeds = held_out.test_seeds(SCENES)
    for i, role in enumerate(MODELS):
        loaded = bundled(role)
        for background in ("grey", "white"):
            expected = held_out.SCORERS[role](loaded.model, loaded.processor, seeds, background=background)
            assert shown[background][i].startswith(f"{expected:.1%} ("), (role, background)
        assert (shown[held_out.PHRASED][i] == "-") == (role not in ("vqa", "fusion"))
    assert any(f"accuracy on {SCENES} held-out scenes" in c.value for c in at.caption)
