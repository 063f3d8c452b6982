"""Zero-shot classification with CLIP: class names become captions through prompt templates.

For each class, every template ("a photo of a {}.") is filled in and embedded; the class embedding is the mean of
those unit vectors, renormalised (template ensembling). The image is classified by softmax(logit_scale * cos).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.models import clip

TEMPLATES = ("a {}", "a photo of a {}.", "a picture of a {}.", "an image of the {}.")


@dataclass
class ZeroShot:
    """probabilities: (classes,) with the ensembled prompts; per_template: (templates, classes) each template alone."""

    class_names: list[str]
    templates: list[str]
    probabilities: np.ndarray
    per_template: np.ndarray


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@torch.inference_mode()
def zero_shot_from_embedding(clip_model, processor, image_embed: np.ndarray, class_names: list[str],
                             templates: list[str]) -> ZeroShot:
    """image_embed: (D,) unit length, e.g. a row of ClipSpace.image_embeds: only the text tower runs here."""
    if not class_names or not templates:
        raise ValueError("zero-shot needs at least one class name and one template")
    prompts = [t.format(name) for t in templates for name in class_names]  # template-major
    tokens = processor.tokenizer(prompts, return_tensors="pt", padding=True, truncation=True)
    text = clip.text_embeds(clip_model, tokens.input_ids, tokens.attention_mask)  # (templates * classes, D)
    text = (text / text.norm(dim=-1, keepdim=True)).float().numpy()
    text = text.reshape(len(templates), len(class_names), -1)  # (templates, classes, D)
    scale = clip.logit_scale(clip_model)
    per_template = _softmax(scale * text @ image_embed)  # (templates, classes)
    ensembled = text.mean(axis=0)
    ensembled /= np.linalg.norm(ensembled, axis=-1, keepdims=True)
    return ZeroShot(list(class_names), list(templates), _softmax(scale * ensembled @ image_embed), per_template)
