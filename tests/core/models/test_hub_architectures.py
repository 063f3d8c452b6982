"""The hub pack's real architectures with random weights (built from their default configs, nothing downloaded):
the page computations handle their shapes: BLIP's 24x24 grid of 16 px patches, ViLT's variable 32 px grid."""
import numpy as np
import pytest
from PIL import Image
from transformers import (
    BlipConfig,
    BlipForQuestionAnswering,
    BlipImageProcessor,
    BlipProcessor,
    ViltConfig,
    ViltForQuestionAnswering,
    ViltImageProcessor,
    ViltProcessor,
)

from core.concepts import cross_attention, early_fusion
from core.shapes import tiny_models


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_models.build_tokenizer()  # any BERT WordPiece tokenizer will do for shapes; ids stay in range


def test_blip_base_cross_attention_covers_577_image_tokens(tokenizer):
    model = BlipForQuestionAnswering._from_config(BlipConfig(), attn_implementation="eager").eval()
    processor = BlipProcessor(image_processor=BlipImageProcessor(), tokenizer=tokenizer)
    result = cross_attention.ask(model, processor, Image.new("RGB", (500, 300), "gray"), "what is in the photo?",
                                 max_answer_tokens=2)
    text = model.config.text_config
    assert result.grid == (24, 24)
    assert result.cross_attentions.shape == (text.num_hidden_layers, text.num_attention_heads, len(result.tokens),
                                             577)
    assert np.allclose(result.cross_attentions.sum(axis=-1), 1.0, atol=1e-4)


@pytest.mark.parametrize("size", [(384, 384), (640, 384), (300, 900)])
def test_vilt_b32_joint_stream_maps_every_patch(tokenizer, size):
    model = ViltForQuestionAnswering._from_config(ViltConfig(), attn_implementation="eager").eval()
    processor = ViltProcessor(image_processor=ViltImageProcessor(), tokenizer=tokenizer)
    result = early_fusion.fuse(model, processor, Image.new("RGB", size, "gray"), "what is in the photo?")
    rows, cols = result.grid
    height, width = processor(images=Image.new("RGB", size), text="x", return_tensors="pt").pixel_values.shape[2:]
    assert (rows, cols) == (height // 32, width // 32)  # the processor picks the size: shortest edge 384, /32
    assert result.n_image == rows * cols + 1
    seq = result.n_text + result.n_image
    assert result.attentions.shape == (12, 12, seq, seq)
    assert sorted(map(tuple, result.patch_positions)) == [(r, c) for r in range(rows) for c in range(cols)]
