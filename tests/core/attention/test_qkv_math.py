import numpy as np
import pytest

from core.attention import qkv_math
from core.inputs import images
from tests.models import bundled


@pytest.mark.parametrize("layer,head,token", [(0, 0, 1), (1, 3, 5), (1, 2, 0)])
def test_numpy_recomputation_matches_the_models_cross_attention(layer, head, token):
    vqa = bundled("vqa")
    image = images.load_image(images.sample_png("shapes: two objects"))
    encoding = qkv_math.encode(vqa.model, vqa.processor, image, "what color is the circle?")
    math = qkv_math.math_from_encoding(vqa.model, encoding, layer, head, token)
    assert math.max_abs_difference <= 1e-5
    assert np.isclose(math.weights.sum(), 1.0, atol=1e-6)
    assert math.q.shape == (math.d_k,) and math.K.shape == (65, math.d_k) and math.V.shape == (65, math.d_k)
    assert np.allclose(math.context, math.weights @ math.V, atol=1e-6)
    assert np.abs(math.out - math.model_out).max() <= 1e-4  # the residual combine, LayerNorm included
