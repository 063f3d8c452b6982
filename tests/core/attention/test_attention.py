import numpy as np
import pytest
import torch

from core import attention


def test_stack_gives_layers_heads_queries_keys():
    layers = tuple(torch.rand(2, 4, 5, 7) for _ in range(3))
    stacked = attention.stack_attentions(layers, batch_index=1)
    assert stacked.shape == (3, 4, 5, 7)
    assert np.allclose(stacked[2], layers[2][1].numpy())


@pytest.mark.parametrize("missing", [None, (), (None, None)])
def test_missing_attentions_fail_loudly(missing):
    with pytest.raises(attention.AttentionsMissing, match="eager"):
        attention.stack_attentions(missing)


def test_select_layer_and_head_reductions():
    w = np.random.default_rng(0).random((3, 4, 5, 6))
    assert np.array_equal(attention.select(w, 1, 2), w[1, 2])
    assert np.allclose(attention.select(w, 0, "mean"), w[0].mean(axis=0))
    assert np.allclose(attention.select(w, 2, "max"), w[2].max(axis=0))
    assert np.allclose(attention.select(w, "mean", "mean"), w.mean(axis=(0, 1)))
    with pytest.raises(ValueError):
        attention.select(w[0], 0, 0)
