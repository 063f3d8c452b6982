"""core.analysis.cost on the bundled tiny models: the attention weights it counts are the ones the forward returns,
FLOPs come from torch's counter and grow with the tokens, counts are remembered per shapes, and a cost knows whether
this run computed it."""
from __future__ import annotations

import threading

import pytest
import torch

from core.analysis import cost
from core.concepts import early_fusion, fusion_designs
from core.inputs import images
from core.models import blip
from tests.models import bundled

SCENE = "shapes: two objects"


def image():
    return images.load_image(images.sample_png(SCENE))


def numel(tensors) -> int:
    return sum(t.numel() for t in tensors)


class TwoHeads(torch.nn.Module):
    """Eager attention by hand: q k^T over (1, 2 heads, 3 queries, 5 keys), d = 4."""

    def forward(self, q, k):
        return torch.softmax(q @ k.transpose(-1, -2), dim=-1)  # (1, 2, 3, 5)


def test_a_hand_written_attention_counts_its_weights_and_its_matmul_flops():
    q, k = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 5, 4)
    counted = cost.count(TwoHeads(), lambda: TwoHeads()(q, k))
    assert counted.self_attention == 2 * 3 * 5 and counted.cross_attention == 0
    assert counted.flops == 2 * (2 * 3 * 5 * 4)  # one batched matmul: 2 FLOPs per multiply-add


def test_vilt_attention_entries_equal_the_attentions_it_returns():
    fusion = bundled("fusion")
    inputs = fusion.processor(images=image(), text="what color is the circle?", return_tensors="pt")
    counted = cost.count(fusion.model, lambda: fusion.model(**inputs))
    with torch.inference_mode():
        returned = fusion.model(**inputs, output_attentions=True).attentions
    assert counted.attention_entries == counted.self_attention == numel(returned)
    assert counted.cross_attention == 0 and counted.flops > 0


def test_blip_splits_self_and_cross_attention_as_its_outputs_do():
    vqa = bundled("vqa")
    inputs = blip.question_inputs(vqa.processor, image(), "what color is the circle?")
    with torch.inference_mode():
        vision = vqa.model.vision_model(inputs.pixel_values, output_attentions=True)
        text = vqa.model.text_encoder(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                      encoder_hidden_states=vision.last_hidden_state, output_attentions=True)

    def forward():
        hidden = vqa.model.vision_model(inputs.pixel_values).last_hidden_state
        vqa.model.text_encoder(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                               encoder_hidden_states=hidden)

    counted = cost.count(vqa.model, forward)
    assert counted.self_attention == numel(vision.attentions) + numel(text.attentions)
    assert counted.cross_attention == numel(text.cross_attentions) > 0


def test_whisper_cross_attention_to_audio_frames_is_counted_as_cross():
    whisper = bundled("listen_fast")
    features = torch.zeros(1, whisper.model.config.num_mel_bins, 3000)
    ids = torch.tensor([[whisper.model.generation_config.decoder_start_token_id] * 4])

    def forward(attentions=False):
        return whisper.model(input_features=features, decoder_input_ids=ids, output_attentions=attentions)

    counted = cost.count(whisper.model, forward)
    with torch.inference_mode():
        out = forward(True)
    assert counted.self_attention == numel(out.encoder_attentions) + numel(out.decoder_attentions)
    assert counted.cross_attention == numel(out.cross_attentions) == 4 * 4 * 1500 * 6  # tiny.en: 4 layers, 6 heads


def test_flops_are_positive_and_grow_with_the_number_of_tokens():
    fusion = bundled("fusion")

    def flops(question: str) -> tuple[int, int]:
        inputs = fusion.processor(images=image(), text=question, return_tensors="pt")
        return inputs.input_ids.shape[1], cost.count(fusion.model, lambda: fusion.model(**inputs)).flops

    short, long = flops("red?"), flops("what color is the small circle on the left of the square?")
    assert short[0] < long[0] and 0 < short[1] < long[1]


def test_the_fusion_comparison_and_the_page_readout_agree_on_vilt():
    fusion = bundled("fusion")
    question = "what color is the circle?"
    design = fusion_designs.early_fusion(fusion, image(), question, repeats=1)
    counted = cost.count(fusion.model, lambda: early_fusion.fuse(fusion.model, fusion.processor, image(), question))
    assert counted.attention_entries == design.attention_entries
    assert counted.flops / 1e9 == pytest.approx(design.gflops)


def test_a_count_is_taken_once_per_model_and_shapes():
    model, runs = TwoHeads(), []
    q, k = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 5, 4)

    def forward():
        runs.append(1)
        return model(q, k)

    first = cost.counted(model, ("q", 3, "k", 5), forward)
    assert cost.counted(model, ("q", 3, "k", 5), forward) == first and len(runs) == 1
    cost.counted(model, ("q", 3, "k", 6), forward)  # other shapes: counted again
    assert cost.counted(TwoHeads(), ("q", 3, "k", 5), forward) == first and len(runs) == 3  # another model too


def test_latency_is_measured_and_a_cost_knows_who_computed_it():
    result, seconds = cost.timed(lambda: sum(range(10_000)))
    assert result == sum(range(10_000)) and seconds > 0
    cost.begin_run()
    mine = cost.measured(9, 65, "image tokens", cost.Count(10, 3, 2), seconds)
    assert cost.computed_now(mine)
    seen_elsewhere = []
    thread = threading.Thread(target=lambda: seen_elsewhere.append(cost.computed_now(mine)))
    thread.start()
    thread.join()
    assert seen_elsewhere == [False]  # another session's thread was served it
    cost.begin_run()  # the next run of the page: now it comes from a cache
    assert not cost.computed_now(mine)


def test_the_readout_line_uses_human_units_and_says_where_the_result_came_from():
    c = cost.measured(9, 65, "image tokens", cost.Count(410_000_000, 10_000, 2_300), 0.038, "64 patches + CLS")
    line = cost.readout(c, now=True)
    assert line == ("text tokens 9 · image tokens 65 (64 patches + CLS) · attention weights 12.3 k (self 10 k, "
                    "cross 2.3 k) · 410 MFLOP · 38 ms, computed now")
    assert cost.readout(c, now=False).endswith("38 ms when computed; served from cache now")
    vision = cost.measured(0, 50, "image tokens", cost.Count(4_400_000_000, 150_000, 0), 1.5)
    assert cost.readout(vision, now=True) == ("image tokens 50 · attention weights 150 k · 4.4 GFLOP · 1.50 s, "
                                              "computed now")
