import numpy as np

from core.concepts import cross_attention
from core.inputs import images
from core.shapes import shapes_world
from tests.models import bundled


def test_cross_attention_is_token_by_patch_and_rows_sum_to_one():
    vqa = bundled("vqa")
    result = cross_attention.ask(vqa.model, vqa.processor, images.load_image(images.sample_png("shapes: two objects")),
                                 "what color is the circle?")
    assert result.tokens[0] == "[CLS]" and "circle" in result.tokens and result.tokens[-1] == "[SEP]"
    layers, heads, tokens, keys = result.cross_attentions.shape
    assert (layers, heads, tokens, keys) == (2, 4, len(result.tokens), 1 + 64)
    assert result.grid == (8, 8) and result.token_patch_matrix.shape[-1] == 64
    assert np.allclose(result.cross_attentions.sum(axis=-1), 1.0, atol=1e-5)
    assert 0.0 < result.answer_probability <= 1.0


def test_the_answer_matches_generate_and_the_ground_truth():
    vqa = bundled("vqa")
    name = "shapes: two objects"
    scene = images.sample_scene(name)
    for obj in scene.objects:
        question = f"what color is the {obj.shape}?"
        image = images.load_image(images.sample_png(name))
        result = cross_attention.ask(vqa.model, vqa.processor, image, question)
        inputs = vqa.processor(images=image, text=question, return_tensors="pt")
        reference = vqa.processor.decode(vqa.model.generate(**inputs, max_new_tokens=10)[0], skip_special_tokens=True)
        assert result.answer == reference.strip()
        assert result.answer == obj.color
        assert result.answer in shapes_world.COLORS


def test_naming_token_is_the_last_word():
    assert cross_attention.naming_token(["[CLS]", "what", "color", "is", "the", "circle", "?", "[SEP]"]) == 5
    assert cross_attention.naming_token(["[CLS]", "?", "[SEP]"]) == 0


def test_answer_tokens_attend_over_the_question_and_flow_to_the_patches():
    vqa = bundled("vqa")
    result = cross_attention.ask(vqa.model, vqa.processor, images.load_image(images.sample_png("shapes: two objects")),
                                 "what color is the circle?")
    layers, heads, answers, tokens = result.answer_question_attention.shape
    assert answers == len(result.answer_tokens) and tokens == len(result.tokens)
    assert result.answer_tokens[0] == result.answer
    assert np.allclose(result.answer_question_attention.sum(axis=-1), 1.0, atol=1e-5)
    question_matrix = result.token_patch_matrix.mean(axis=(0, 1))  # (T, N)
    flow = result.answer_patch_flow(question_matrix)
    weights = result.answer_question_attention[-1].mean(axis=0)[0]
    assert np.allclose(flow[0], sum(w * question_matrix[t] for t, w in enumerate(weights)), atol=1e-6)
