import numpy as np

from core.analysis import faithfulness
from core.concepts import cross_attention
from core.inputs import images
from tests.models import bundled


def test_answer_probability_agrees_with_generation():
    vqa = bundled("vqa")
    image = images.load_image(images.sample_png("shapes: two objects"))
    result = cross_attention.ask(vqa.model, vqa.processor, image, "what color is the circle?")
    p = faithfulness.answer_probability(vqa.model, vqa.processor, image, "what color is the circle?", result.answer)
    assert abs(p - result.answer_probability) < 0.05  # generation also multiplies in the [SEP] step's neighbourhood
    assert p > 0.5


def test_masking_the_attended_patches_is_compared_with_random_patches():
    vqa = bundled("vqa")
    image = images.load_image(images.sample_png("shapes: two objects"))
    question = "what color is the circle?"
    result = cross_attention.ask(vqa.model, vqa.processor, image, question)
    row = result.token_patch_matrix.mean(axis=(0, 1))[result.tokens.index("circle")]
    masked = faithfulness.masking_test(vqa.model, vqa.processor, result.patches, question, result.answer, row, k=4)
    assert masked.top_patches == list(np.argsort(row)[::-1][:4])
    assert 0 <= masked.p_top_masked <= 1 and 0 <= masked.p_random_masked <= 1
    assert masked.top_masked_image.shape == result.patches.image.shape


def test_hiding_the_attended_patches_hurts_more_than_hiding_random_ones():
    from core.shapes import evaluate

    vqa = bundled("vqa")
    summary = faithfulness.masking_summary(vqa.model, vqa.processor,
                                           range(evaluate.TEST_SEED, evaluate.TEST_SEED + 20), k=4)
    assert summary.scenes == 20
    assert summary.drop("top_attended").mean > summary.drop("random").mean + 0.05
