import torch

from core.shapes import tiny_models


def test_vilt_layers_copied_from_clip_compute_the_same_function():
    tokenizer = tiny_models.build_tokenizer()
    vilt, _ = tiny_models.build_fusion(tokenizer)
    clip, _ = tiny_models.build_clip(tokenizer)
    tiny_models.init_fusion_from_clip(vilt, clip)
    hidden = torch.randn(2, 65, tiny_models.SIZE.hidden)  # (B, 1 + patches, d)
    with torch.no_grad():
        for clip_layer, vilt_layer in zip(clip.vision_model.encoder.layers, vilt.vilt.encoder.layer):
            expected = clip_layer(hidden, attention_mask=None)
            expected = expected[0] if isinstance(expected, tuple) else expected
            got = vilt_layer(hidden)[0]
            assert torch.allclose(got, expected, atol=1e-5)
    pixels = torch.randn(1, 3, 64, 64)
    assert torch.allclose(vilt.vilt.embeddings.patch_embeddings(pixels).flatten(2).transpose(1, 2),
                          clip.vision_model.embeddings.patch_embedding(pixels).flatten(2).transpose(1, 2), atol=1e-5)
    # every CLIP layer found a ViLT layer to copy into (zip above stops at the shorter), and ViLT has one more
    assert len(vilt.vilt.encoder.layer) == len(clip.vision_model.encoder.layers) + 1


def test_a_fresh_vilt_does_not_start_with_zero_image_positions():
    vilt, _ = tiny_models.build_fusion(tiny_models.build_tokenizer())
    assert vilt.vilt.embeddings.position_embeddings.abs().max() > 0


def test_blip_vision_copied_from_clip_computes_the_same_layers():
    tokenizer = tiny_models.build_tokenizer()
    blip, _ = tiny_models.build_vqa(tokenizer)
    clip, _ = tiny_models.build_clip(tokenizer)
    tiny_models.init_blip_vision_from_clip(blip, clip)
    hidden = torch.randn(2, 65, tiny_models.SIZE.hidden)
    with torch.no_grad():
        for clip_layer, blip_layer in zip(clip.vision_model.encoder.layers, blip.vision_model.encoder.layers):
            expected = clip_layer(hidden, attention_mask=None)
            expected = expected[0] if isinstance(expected, tuple) else expected
            got = blip_layer(hidden, attention_mask=None)
            got = got[0] if isinstance(got, tuple) else got
            assert torch.allclose(got, expected, atol=1e-5)
