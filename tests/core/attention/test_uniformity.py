"""max/min of a heatmap on hand-made maps: uniform is 1, a peak is large, and the threshold splits them."""
import numpy as np
import pytest

from core.attention.uniformity import NEARLY_UNIFORM, nearly_uniform, uniformity


def test_a_uniform_map_is_one_and_nearly_uniform():
    flat = np.full((8, 8), 1 / 64)
    assert uniformity(flat) == pytest.approx(1.0)
    assert nearly_uniform(flat)


def test_the_ratio_is_max_over_min_whatever_the_shape():
    weights = np.array([0.0036, 0.0040, 0.0048])
    assert uniformity(weights) == pytest.approx(0.0048 / 0.0036)  # issue #18's map: 1.33, nearly uniform
    assert uniformity(weights.reshape(1, 3)) == uniformity(weights)
    assert nearly_uniform(weights)


def test_a_peaked_map_is_not_nearly_uniform_and_the_threshold_decides():
    peaked = np.array([0.01, 0.01, 0.98])
    assert uniformity(peaked) == pytest.approx(98.0)
    assert not nearly_uniform(peaked)
    edge = np.array([1.0, NEARLY_UNIFORM])  # exactly at the threshold: not below it
    assert not nearly_uniform(edge) and nearly_uniform(edge, threshold=NEARLY_UNIFORM + 0.01)


def test_a_zero_weight_gives_a_huge_finite_ratio_and_all_zeros_count_as_flat():
    assert np.isfinite(uniformity(np.array([0.0, 0.5]))) and uniformity(np.array([0.0, 0.5])) > 1e9
    assert uniformity(np.zeros(4)) == 1.0


def test_bad_maps_fail_loudly():
    with pytest.raises(ValueError, match="empty"):
        uniformity(np.array([]))
    with pytest.raises(ValueError, match=">= 0"):
        uniformity(np.array([-0.1, 0.5]))
