import math

import numpy as np
import pytest

from core.analysis import intervals


def test_the_t_interval_of_a_mean_matches_a_hand_computed_case():
    # [1, 2, 3, 4, 5]: mean 3, s = sqrt(2.5) = 1.5811, se = s / sqrt(5) = 0.7071, t(4, 0.975) = 2.7764
    result = intervals.mean_interval([1, 2, 3, 4, 5])
    assert result.mean == 3 and result.n == 5
    assert math.isclose(result.low, 3 - 2.7764 * 0.70711, abs_tol=1e-3)
    assert math.isclose(result.high, 3 + 2.7764 * 0.70711, abs_tol=1e-3)
    assert str(result) == "3.000 (1.037 to 4.963, n=5)"


def test_the_t_quantile_approaches_the_normal_one_as_n_grows():
    assert math.isclose(intervals.t_quantile(5), 2.7764, abs_tol=1e-4)
    assert math.isclose(intervals.t_quantile(300), 1.9679, abs_tol=1e-4)
    assert intervals.t_quantile(10_000) == pytest.approx(intervals.Z_95, abs=2e-3)


def test_the_interval_narrows_as_one_over_root_n_and_one_value_has_no_width():
    rng = np.random.default_rng(0)
    small, large = (intervals.mean_interval(rng.normal(0.5, 0.2, n)) for n in (100, 400))
    assert math.isclose((small.high - small.low) / (large.high - large.low), 2.0, rel_tol=0.2)
    one = intervals.mean_interval([0.25])
    assert one.low == one.high == one.mean == 0.25 and one.n == 1
    with pytest.raises(ValueError):
        intervals.mean_interval([])


def test_separation_and_exclusion():
    a, b = intervals.MeanInterval(0.2, 0.1, 0.3, 10), intervals.MeanInterval(0.5, 0.35, 0.65, 10)
    assert a.separated_from(b) and b.separated_from(a)
    assert not a.separated_from(intervals.MeanInterval(0.35, 0.25, 0.45, 10))
    assert a.excludes(0.0) and not a.excludes(0.2)
