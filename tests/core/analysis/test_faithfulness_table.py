"""The held-out faithfulness table: its bookkeeping on hand-made areas, then the oracle check on the bundled models."""
import numpy as np
import pytest

from core.analysis import deletion, faithfulness_table, relevancy
from core.analysis.intervals import mean_interval
from core.shapes import held_out
from tests.models import bundled

LABELS = [*relevancy.METHODS, deletion.RANDOM, deletion.OBJECT_MASK]


def hand_table() -> faithfulness_table.FaithfulnessTable:
    # 4 scenes; rows: raw, rollout, grad_x_attention, chefer, random, object mask
    deletion_areas = np.array([[0.50, 0.60, 0.40, 0.50],
                               [0.20, 0.30, 0.25, 0.25],
                               [0.70, 0.80, 0.90, 0.60],
                               [0.30, 0.35, 0.30, 0.30],
                               [0.60, 0.70, 0.50, 0.70],
                               [0.10, 0.10, 0.15, 0.05]])
    insertion_areas = 1 - deletion_areas
    return faithfulness_table.FaithfulnessTable("hand", LABELS, deletion_areas, insertion_areas,
                                                np.array([0.9, 0.8, 1.0, 0.95]), np.array([True, True, False, True]))


def test_rows_count_the_scenes_each_order_beats_random_on():
    rows = {r.label: r for r in hand_table().rows()}
    assert rows["raw"].deletion.mean == pytest.approx(0.5) and rows["raw"].deletion.n == 4
    assert rows["raw"].beats_random_deletion == 4  # 0.50 < 0.60, 0.60 < 0.70, 0.40 < 0.50, 0.50 < 0.70
    assert rows["grad_x_attention"].beats_random_deletion == 1  # only 0.60 < 0.70 on the last scene
    assert rows["rollout"].beats_random_insertion == 4 and rows[deletion.RANDOM].beats_random_deletion == 0
    assert rows["grad_x_attention"].beats_random_share() == "25% (5-70%, n=4)"


def test_the_verdict_picks_the_lowest_deletion_area_among_the_methods_only():
    table = hand_table()
    verdict = table.verdict("deletion")
    assert (verdict.best, verdict.runner_up) == ("rollout", "chefer")  # the oracle is lower but is no method
    assert verdict.difference.mean == pytest.approx(np.mean([0.20 - 0.30, 0.30 - 0.35, 0.25 - 0.30, 0.25 - 0.30]))
    assert verdict.paired_significant and not verdict.separated  # overlapping intervals, consistent paired gap
    assert table.verdict("insertion").best == "rollout"
    assert "Rollout" in verdict.sentence() and "excludes 0" in verdict.sentence()
    assert table.accuracy().startswith("75% (")


@pytest.mark.parametrize("role", ["vqa", "fusion"])
def test_the_true_object_mask_beats_random_order_on_held_out_scenes(role):
    loaded = bundled(role)
    table = faithfulness_table.faithfulness_table(role, loaded.model, loaded.processor, held_out.test_seeds(8))
    assert table.labels == LABELS and table.deletion.shape == (6, 8)
    for areas in (table.deletion, table.insertion):
        assert ((areas >= 0) & (areas <= 1)).all()
    oracle, random = table.areas(deletion.OBJECT_MASK), table.areas(deletion.RANDOM)
    assert oracle.mean() < random.mean() - 0.1  # hiding the named object first hurts the answer sooner
    assert mean_interval(oracle - random).high < 0  # and the paired gap is clear of 0 even on 8 scenes
    lines = faithfulness_table.table_lines(table)
    assert any("n=8" in line for line in lines) and lines[-2].startswith("most faithful by deletion")
