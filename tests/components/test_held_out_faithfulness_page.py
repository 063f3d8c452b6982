"""The Cross-attention page's held-out tables: which method is most faithful per model (under the per-input curves)
and the masking controls, drawn from the numbers core computes. n is shrunk to a few scenes to keep it cheap."""
from __future__ import annotations

import numpy as np
import pytest

from components.service import explanations
from core.analysis import faithfulness, faithfulness_table
from core.analysis.relevancy import METHOD_TITLES
from core.shapes import held_out
from tests.models import bundled
from tests.pages.test_pages import open_page

SCENES = 4


def frames_with(at, column: str) -> list:
    """The dataframes on the page that have this column (AppTest's dataframes carry no key)."""
    return [d.value for d in at.dataframe if column in d.value.columns]


@pytest.fixture
def few_scenes(monkeypatch):
    monkeypatch.setattr(explanations, "TABLE_SCENES", (SCENES, 2 * SCENES))
    monkeypatch.setattr(explanations, "MASKING_SCENES", SCENES)


def test_the_held_out_table_shows_every_order_with_intervals_for_both_models(few_scenes):
    at = open_page("pages/cross_attention.py")
    at.toggle(key="cross_explain").set_value(True).run()
    at.toggle(key="cross_faith_table").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    tables = frames_with(at, "beats random (deletion)")
    assert len(tables) == len(faithfulness_table.MODELS)
    for role, shown in zip(faithfulness_table.MODELS, tables):
        loaded = bundled(role)
        expected = faithfulness_table.faithfulness_table(role, loaded.model, loaded.processor,
                                                         held_out.test_seeds(SCENES))
        assert list(shown["order"]) == [METHOD_TITLES.get(label, label) for label in expected.labels]
        np.testing.assert_allclose(shown.iloc[:, 1].to_numpy(float), expected.deletion.mean(axis=1), atol=2e-3)
        np.testing.assert_allclose(shown.iloc[:, 3].to_numpy(float), expected.insertion.mean(axis=1), atol=2e-3)
        assert all(s.endswith(f"n={SCENES})") for s in shown["beats random (deletion)"] if s != "-")
    verdicts = [c.value for c in at.caption if c.value.startswith("Most faithful by deletion")]
    assert len(verdicts) == len(faithfulness_table.MODELS)


def test_the_masking_controls_show_four_drops_with_their_n(few_scenes):
    at = open_page("pages/cross_attention.py")
    at.toggle(key="cross_mask_controls").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    (shown,) = frames_with(at, "mean drop in P(answer)")
    assert list(shown["hidden"]) == [faithfulness.CONTROL_WORDS[c] for c in faithfulness.CONTROLS]
    assert (shown["scenes (n)"] == SCENES).all()
    vqa = bundled("vqa")
    k = at.slider(key="cross_mask_k").value
    expected = faithfulness.masking_summary(vqa.model, vqa.processor, held_out.test_seeds(SCENES), k)
    np.testing.assert_allclose(shown["mean drop in P(answer)"].to_numpy(float),
                               [expected.drop(c).mean for c in faithfulness.CONTROLS], atol=2e-3)
