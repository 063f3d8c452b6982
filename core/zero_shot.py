"""Zero-shot classification with CLIP: class names become captions through prompt templates.

For each class, every template ("a photo of a {}.") is filled in and embedded; the class embedding is the mean of
those unit vectors, renormalised (template ensembling). The image is classified by softmax(logit_scale * cos).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

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
def zero_shot(clip_model, processor, image: Image.Image, class_names: list[str], templates: list[str]) -> ZeroShot:
    if not class_names or not templates:
        raise ValueError("zero-shot needs at least one class name and one template")
    prompts = [t.format(name) for t in templates for name in class_names]  # template-major
    inputs = processor(images=image, text=prompts, return_tensors="pt", padding=True, truncation=True)
    out = clip_model(**inputs)
    image_embed = out.image_embeds[0].numpy()  # (D,) unit length
    text = out.text_embeds.numpy().reshape(len(templates), len(class_names), -1)  # (templates, classes, D)
    scale = float(clip_model.logit_scale.exp())
    per_template = _softmax(scale * text @ image_embed)  # (templates, classes)
    ensembled = text.mean(axis=0)
    ensembled /= np.linalg.norm(ensembled, axis=-1, keepdims=True)
    return ZeroShot(list(class_names), list(templates), _softmax(scale * ensembled @ image_embed), per_template)
