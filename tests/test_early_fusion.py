import numpy as np
import pytest
from PIL import Image

from core import early_fusion, images
from tests.models import bundled


@pytest.mark.parametrize("size", [(64, 64), (96, 64), (64, 160)])
def test_blocks_match_token_counts_and_rows_sum_to_one(size):
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", size, "gray"), "what color is the circle?")
    seq = result.n_text + result.n_image
    assert result.attentions.shape[-2:] == (seq, seq) and len(result.tokens) == seq
    rows, cols = result.grid
    assert result.n_image == rows * cols + 1  # every patch once, plus the image CLS
    assert sorted(map(tuple, result.patch_positions)) == [(r, c) for r in range(rows) for c in range(cols)]
    blocks = result.blocks(result.attentions[0, 0])
    t, i = result.n_text, result.n_image
    assert [b.shape for b in blocks.values()] == [(t, t), (t, i), (i, t), (i, i)]
    assert np.allclose(result.attentions.sum(axis=-1), 1.0, atol=1e-5)


def test_answers_come_from_the_model_and_match_a_plain_forward():
    vilt = bundled("fusion")
    name = "shapes: two objects"
    scene = images.sample_scene(name)
    image = images.load_image(images.sample_png(name))
    question = f"what color is the {scene.objects[0].shape}?"
    result = early_fusion.fuse(vilt.model, vilt.processor, image, question)
    plain = vilt.model(**vilt.processor(images=image, text=question, return_tensors="pt"))
    assert result.answer == vilt.model.config.id2label[int(plain.logits.argmax())]
    assert result.answer == scene.objects[0].color
    assert len(result.top_answers) == 5 and result.top_answers[0][1] >= result.top_answers[-1][1]


def test_reading_order_puts_patches_row_by_row_and_keeps_the_text_first():
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", (64, 64), "gray"), "how many objects?")
    order = result.reading_order()
    assert sorted(order) == list(range(len(result.tokens)))
    assert list(order[: result.n_text + 1]) == list(range(result.n_text + 1))
    rows, cols = result.grid
    patch_labels = [result.tokens[i] for i in order[result.n_text + 1:]]
    assert patch_labels == [f"p({r},{c})" for r in range(rows) for c in range(cols)]
