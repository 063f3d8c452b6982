"""Three ways to fuse, one input: late fusion (CLIP), cross-attention (BLIP), early fusion (ViLT).

For the same image and text, each design's function (`late_fusion`, `cross_attention_fusion`, `early_fusion`, one
model each) runs that model's fusing forward once under torch's FLOP counter and a timer, and counts the attention
matrices each design builds. Early fusion attends over the joint sequence
S = T + N + 1, so its attention grows as S^2; cross-attention pays T x (N + 1) per text layer on top of the vision
tower's (N + 1)^2; late fusion never attends across modalities at all.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from core import models

AUDIO_FRAMES_PER_SECOND = 50  # a Whisper-style encoder: 20 ms per frame after its convolutional stem


@dataclass
class DesignCost:
    design: str
    model: str
    text_tokens: int
    image_tokens: int  # including the image CLS token
    attention_shapes: str  # e.g. "12 x 12 heads x 50x50 (vision) + ..."
    attention_entries: int  # query-key pairs scored in one forward, all layers and heads
    gflops: float  # measured by torch's FLOP counter for one forward
    latency_ms: float  # best of `repeats` forwards
    answer: str  # what the model says to this image and text, in words (CLIP scores a match, it does not answer)


def _measure(forward, repeats: int) -> tuple[float, float]:
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            forward()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            forward()
            times.append(time.perf_counter() - start)
    return counter.get_total_flops() / 1e9, min(times) * 1000


def _image_tokens(family, model, pixel_values: torch.Tensor) -> int:
    """Image tokens of one image at this processor's size: the patches plus the family's prefix (CLS)."""
    rows, cols = family.grid(model, pixel_values)
    return rows * cols + family.IMAGE_TOKENS.n_prefix


def late_fusion(clip, image: Image.Image, text: str, repeats: int = 3) -> DesignCost:
    """CLIP: two towers that meet in one dot product. Each design takes only its own model, so a caller with a
    memory budget can hold one full-size model at a time."""
    inputs = clip.processor(images=image, text=[text], return_tensors="pt", padding=True, truncation=True)
    vc, tc = clip.model.config.vision_config, clip.model.config.text_config
    n = _image_tokens(models.clip, clip.model, inputs.pixel_values)
    t = inputs.input_ids.shape[1]
    gflops, ms = _measure(lambda: clip.model(**inputs), repeats)
    with torch.inference_mode():
        out = clip.model(**inputs)
    cosine = float(out.image_embeds[0] @ out.text_embeds[0])  # both unit length
    return DesignCost(
        "late fusion", type(clip.model).__name__, t, n,
        f"{vc.num_hidden_layers}x{vc.num_attention_heads} of {n}x{n} (image) + "
        f"{tc.num_hidden_layers}x{tc.num_attention_heads} of {t}x{t} (text); they meet only in one dot product",
        vc.num_hidden_layers * vc.num_attention_heads * n * n + tc.num_hidden_layers * tc.num_attention_heads * t * t,
        gflops, ms, f"cosine {cosine:.2f}")  # CLIP scores how well the text matches; it has no answer to give


def cross_attention_fusion(vqa, image: Image.Image, text: str, repeats: int = 3) -> DesignCost:
    """BLIP: the text encoder's every layer cross-attends to the vision tower's output."""
    inputs = models.blip.question_inputs(vqa.processor, image, text)
    vc, tc = vqa.model.config.vision_config, vqa.model.config.text_config
    n = _image_tokens(models.blip, vqa.model, inputs.pixel_values)
    t = inputs.input_ids.shape[1]
    gflops, ms = _measure(lambda: models.blip.encode_inputs(vqa.model, vqa.processor, inputs), repeats)
    with torch.inference_mode():
        encoding = models.blip.encode_inputs(vqa.model, vqa.processor, inputs)
        generated = models.blip.answer(vqa.model, encoding.question_embeds, max_new_tokens=10)
    answer = vqa.processor.tokenizer.decode(generated.new_ids, skip_special_tokens=True).strip()
    return DesignCost(
        "cross-attention", type(vqa.model).__name__, t, n,
        f"{vc.num_hidden_layers}x{vc.num_attention_heads} of {n}x{n} (image) + "
        f"{tc.num_hidden_layers}x{tc.num_attention_heads} of {t}x{t} (text) + {t}x{n} (text -> image)",
        vc.num_hidden_layers * vc.num_attention_heads * n * n
        + tc.num_hidden_layers * tc.num_attention_heads * (t * t + t * n),
        gflops, ms, answer or "(empty)")


def early_fusion(fusion, image: Image.Image, text: str, repeats: int = 3) -> DesignCost:
    """ViLT: one joint sequence of text tokens and patches."""
    inputs = fusion.processor(images=image, text=text, return_tensors="pt", truncation=True)
    c = fusion.model.config
    n = _image_tokens(models.vilt, fusion.model, inputs.pixel_values)
    t = inputs.input_ids.shape[1]
    s = t + n
    gflops, ms = _measure(lambda: fusion.model(**inputs), repeats)
    with torch.inference_mode():
        logits = fusion.model(**inputs).logits[0]
    best = int(logits.argmax())
    return DesignCost(
        "early fusion", type(fusion.model).__name__, t, n,
        f"{c.num_hidden_layers}x{c.num_attention_heads} of {s}x{s} (one joint sequence)",
        c.num_hidden_layers * c.num_attention_heads * s * s, gflops, ms,
        f"{c.id2label[best]} ({float(torch.sigmoid(logits[best])):.0%})")


@dataclass(frozen=True)
class JointSequence:
    """Token counts of one stream holding text, image and audio tokens (an illustration, not a model)."""

    text: int
    image: int
    audio: int  # audio frames: AUDIO_FRAMES_PER_SECOND per second, as a Whisper-style encoder makes them

    @property
    def joint(self) -> int:
        return self.text + self.image + self.audio

    @property
    def attention_entries(self) -> int:
        """Query-key pairs per layer and head: the joint length, squared."""
        return self.joint ** 2


def joint_sequence(text_tokens: int, image_tokens: int, audio_seconds: float) -> JointSequence:
    """How audio frames would join the same stream."""
    return JointSequence(text_tokens, image_tokens, int(round(audio_seconds * AUDIO_FRAMES_PER_SECOND)))
