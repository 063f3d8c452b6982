import numpy as np
import pytest

from core.attention import rollout
from core.attention.patch_grid import PatchGrid


def _random_attention(layers=3, heads=4, size=10, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((layers, heads, size, size)) ** 3
    return a / a.sum(axis=-1, keepdims=True)


def _rollout_by_hand(attentions, fusion, discard_ratio):
    """Straightforward loops, written independently of core.attention.rollout."""
    layers, heads, size, _ = attentions.shape
    result = [[1.0 if i == j else 0.0 for j in range(size)] for i in range(size)]
    for layer in range(layers):
        fused = [[0.0] * size for _ in range(size)]
        for i in range(size):
            for j in range(size):
                values = [attentions[layer, h, i, j] for h in range(heads)]
                fused[i][j] = {"mean": sum(values) / heads, "max": max(values), "min": min(values)}[fusion]
        if discard_ratio:
            inner = sorted(fused[i][j] for i in range(1, size) for j in range(1, size))
            k = int(len(inner) * discard_ratio)
            if k:
                cut = inner[k - 1]
                for i in range(1, size):
                    for j in range(1, size):
                        if fused[i][j] <= cut:
                            fused[i][j] = 0.0
        mixed = []
        for i in range(size):
            row = [0.5 * fused[i][j] + (0.5 if i == j else 0.0) for j in range(size)]
            total = sum(row)
            mixed.append([v / total for v in row])
        result = [[sum(mixed[i][k] * result[k][j] for k in range(size)) for j in range(size)] for i in range(size)]
    return np.array(result)


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard", [0.0, 0.5, 0.9])
def test_rollout_equals_a_straightforward_implementation(fusion, discard):
    attentions = _random_attention(seed=rollout.HEAD_FUSIONS.index(fusion) * 10 + int(discard * 10))
    fast = rollout.rollout(attentions, fusion, discard)
    assert np.allclose(fast, _rollout_by_hand(attentions, fusion, discard), atol=1e-10)
    assert np.allclose(fast.sum(axis=-1), 1.0)


def test_rollout_of_identity_attention_is_identity_and_bad_options_fail():
    eye = np.broadcast_to(np.eye(5), (2, 3, 5, 5))
    assert np.allclose(rollout.rollout(eye), np.eye(5))
    with pytest.raises(ValueError):
        rollout.rollout(eye, "median")
    with pytest.raises(ValueError):
        rollout.rollout(eye, discard_ratio=1.0)


def test_mean_attention_distance_local_vs_global():
    patches = PatchGrid(np.zeros((32, 32, 3), np.uint8), 8, 4, 4)
    n = 16
    local = np.eye(n)[None, None]  # each patch attends to itself only
    uniform = np.full((1, 1, n, n), 1 / n)
    assert rollout.mean_attention_distance(local, patches)[0, 0] == 0.0
    r, c = np.divmod(np.arange(n), 4)
    expected = np.hypot(r[:, None] - r[None], c[:, None] - c[None]).mean() * 8
    assert np.isclose(rollout.mean_attention_distance(uniform, patches)[0, 0], expected)
