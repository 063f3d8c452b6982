import numpy as np
import pytest

from core.analysis import faithfulness, relevancy
from core.attention import HEAD_MEAN, select
from core.concepts import cross_attention
from core.inputs import images
from tests.models import bundled

QUESTION = "what color is the circle?"


def test_head_cam_is_the_head_mean_of_the_positive_part_of_gradient_times_attention():
    attention = np.array([[[0.25, 0.75]], [[0.5, 0.5]]])  # (heads 2, Q 1, K 2)
    gradient = np.array([[[2.0, -1.0]], [[1.0, 4.0]]])
    # head 0: (0.5, -0.75) -> (0.5, 0); head 1: (0.5, 2.0); mean: (0.5, 1.0)
    np.testing.assert_allclose(relevancy.head_cam(attention, gradient), [[0.5, 1.0]])


def test_grad_x_attention_reads_one_layer_of_the_stored_maps():
    attention = np.zeros((2, 2, 1, 2))  # (L, H, T, N)
    gradient = np.zeros((2, 2, 1, 2))
    attention[1], gradient[1] = [[[0.25, 0.75]], [[0.5, 0.5]]], [[[2.0, -1.0]], [[1.0, 4.0]]]
    explained = relevancy.Explanations("red", 0.9, ["a"], attention, gradient, np.zeros((1, 2)), np.zeros((1, 2)))
    np.testing.assert_allclose(explained.grad_x_attention(), [[0.5, 1.0]])  # last layer by default
    np.testing.assert_allclose(explained.grad_x_attention(0), [[0.0, 0.0]])
    np.testing.assert_allclose(explained.grad_x_attention("mean"), [[0.25, 0.5]])


def test_chefer_two_layers_by_hand():
    one_head = lambda m: np.array(m, dtype=float)[None]  # noqa: E731 - (1, Q, K); gradient 1 keeps the map as is
    self_attentions = np.stack([one_head([[0.2, 0.6], [0.0, 0.4]]), one_head([[0.0, 1.0], [0.0, 0.0]])])
    cross_attentions = np.stack([one_head([[0.4, 0.0], [0.1, 0.3]]), one_head([[0.0, 0.0], [0.0, 0.0]])])
    ones = np.ones_like
    # layer 0, self (eqs. 6, 7): R_tt = I + S = [[1.2, .6], [0, 1.4]]; R_ti stays 0.
    # eqs. 8, 9: R_tt - I = [[.2, .6], [0, .4]] -> rows / (.8, .4) = [[.25, .75], [0, 1]] -> + I = [[1.25, .75], [0, 2]]
    # eq. 10: Rbar^T C = [[1.25, 0], [.75, 2]] @ [[.4, 0], [.1, .3]] = [[.5, 0], [.5, .6]]
    # layer 1, self: R_ti += [[0, 1], [0, 0]] @ R_ti = [[.5, .6], [0, 0]] -> [[1.0, .6], [.5, .6]]; cross adds 0
    r_ti = relevancy.chefer_relevancy(self_attentions, ones(self_attentions), cross_attentions, ones(cross_attentions))
    np.testing.assert_allclose(r_ti, [[1.0, 0.6], [0.5, 0.6]])
    one_layer = relevancy.chefer_relevancy(self_attentions[:1], ones(self_attentions[:1]), cross_attentions[:1],
                                           ones(cross_attentions[:1]))
    np.testing.assert_allclose(one_layer, [[0.5, 0.0], [0.5, 0.6]])


def test_the_image_side_left_as_identity_adds_nothing_and_divides_by_no_zero():
    np.testing.assert_allclose(relevancy._normalised_residual(np.eye(3)), np.eye(3))
    cam = np.array([[0.4, 0.0], [0.1, 0.3]])
    r_tt = np.eye(2)
    assert np.allclose(relevancy.cross_attention_rule(r_tt, np.zeros((2, 2)), cam),
                       relevancy.cross_attention_rule(r_tt, np.zeros((2, 2)), cam, r_ii=np.eye(2)))


def test_text_rollout_by_hand():
    self_attentions = np.array([[[[1.0, 0.0], [0.0, 1.0]]], [[[0.5, 0.5], [0.0, 1.0]]]])  # (L 2, H 1, T 2, T 2)
    cross_attentions = np.array([[[[1.0, 0.0], [0.0, 1.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])  # (L 2, H 1, T 2, K 2)
    # last layer's cross as is; layer 0's carried by M_1 = .5 * S_1 + .5 * I = [[.75, .25], [0, 1]]; mean of the two
    np.testing.assert_allclose(relevancy.text_rollout(self_attentions, cross_attentions),
                               [[0.625, 0.375], [0.25, 0.75]])


@pytest.fixture(scope="module")
def explained():
    vqa = bundled("vqa")
    image = images.load_image(images.sample_png("shapes: two objects"))
    asked = cross_attention.ask(vqa.model, vqa.processor, image, QUESTION)
    return asked, relevancy.explain(vqa.model, vqa.processor, image, QUESTION, asked.answer), image


def test_every_method_gives_a_token_by_patch_map_on_the_bundled_model(explained):
    asked, result, _ = explained
    n_tokens, n_patches = len(asked.tokens), asked.patches.n_patches
    maps = result.maps()
    assert list(maps) == list(relevancy.METHODS) == list(relevancy.METHOD_CLAIMS)
    word = cross_attention.naming_token(result.tokens)
    for method, values in maps.items():
        assert values.shape == (n_tokens, n_patches), method
        assert (values >= 0).all(), method
        assert values[word].sum() > 0, method
    for a in relevancy.METHODS:
        for b in relevancy.METHODS:
            if a < b:
                scale = lambda m: m[word] / m[word].sum()  # noqa: E731 - compare shapes of the maps, not their units
                assert not np.allclose(scale(maps[a]), scale(maps[b]), atol=1e-4), (a, b)


def test_raw_is_the_pages_cross_attention_and_the_probability_is_the_answers(explained):
    asked, result, image = explained
    np.testing.assert_allclose(result.maps(layer=0, head=1)["raw"], select(asked.token_patch_matrix, 0, 1))
    np.testing.assert_allclose(result.maps()["raw"], select(asked.token_patch_matrix, -1, HEAD_MEAN))
    vqa = bundled("vqa")
    p = faithfulness.answer_probability(vqa.model, vqa.processor, image, QUESTION, asked.answer)
    assert result.probability == pytest.approx(p, rel=1e-4)
    assert np.abs(result.cross_gradients).max() > 0


def test_rollout_rows_sum_to_one_with_the_cls_key_put_back(explained):
    asked, result, _ = explained
    full = relevancy.text_rollout(np.full((2, 1, 3, 3), 1 / 3), np.full((2, 1, 3, 5), 1 / 5))
    np.testing.assert_allclose(full.sum(axis=-1), 1.0)
    cls_share = 1.0 - result.rollout.sum(axis=-1)  # what rollout gave the dropped CLS key
    assert ((cls_share > 0) & (cls_share < 1)).all()
