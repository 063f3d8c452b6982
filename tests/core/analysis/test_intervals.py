import math

import pytest

from core.analysis import intervals


def test_wilson_matches_hand_computed_values():
    # 85/100: centre (0.85 + 1.96^2/200) / (1 + 1.96^2/100) = 0.8370, half-width 0.0699
    low, high = intervals.wilson(85, 100)
    assert math.isclose(low, 0.7672, abs_tol=5e-4) and math.isclose(high, 0.9069, abs_tol=5e-4)
    # 50/100: symmetric around one half
    low, high = intervals.wilson(50, 100)
    assert math.isclose(low, 0.4038, abs_tol=5e-4) and math.isclose(high, 0.5962, abs_tol=5e-4)
    assert math.isclose(low + high, 1.0)


def test_wilson_stays_inside_zero_one_and_keeps_a_width_at_the_ends():
    low, high = intervals.wilson(100, 100)  # the Wald interval would be [1, 1]
    assert math.isclose(high, 1.0) and math.isclose(low, 0.9630, abs_tol=5e-4)
    low, high = intervals.wilson(0, 20)
    assert low == 0.0 and math.isclose(high, 0.1611, abs_tol=5e-4)


def test_wilson_narrows_as_n_grows():
    widths = [intervals.wilson(n * 85 // 100, n)[1] - intervals.wilson(n * 85 // 100, n)[0] for n in (100, 400, 1600)]
    assert widths[0] > widths[1] > widths[2]
    assert math.isclose(widths[0] / widths[1], 2.0, rel_tol=0.1)  # width ~ 1 / sqrt(n)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError):
        intervals.wilson(3, 0)
    with pytest.raises(ValueError):
        intervals.wilson(11, 10)


def test_share_with_interval_prints_share_interval_and_n():
    assert intervals.share_with_interval(0.85, 100) == "85% (77-91%, n=100)"
    assert intervals.share_with_interval(1.0, 100) == "100% (96-100%, n=100)"
    assert intervals.range_with_interval(0.85, 100) == "77-91%"
    assert intervals.interval(0.85, 100) == intervals.wilson(85, 100)
