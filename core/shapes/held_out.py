"""The held-out shapes scenes and the two scorers the app itself runs (the live mini-CLIP's accuracy, the patch
probe's grounding rate). Runtime code imports this module, never core/shapes/train.py or evaluate.py.

Scene seeds: training draws from [0, VALIDATION_SEED); validation sits above it and the held-out test set above
TEST_SEED, so no scene is in two sets.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from core.concepts.contrastive import matched_accuracy
from core.shapes import shapes_world

VALIDATION_SEED = 900_000_000
TEST_SEED = 950_000_000


def test_seeds(n: int) -> range:
    """The first n held-out scene seeds."""
    return range(TEST_SEED, TEST_SEED + n)


@torch.inference_mode()
def clip_zero_shot(model, processor, seeds: Iterable[int]) -> float:
    """One-object scenes classified among all colour x shape prompts."""
    scenes = [shapes_world.make_scene(s, n_objects=1) for s in seeds]
    classes = shapes_world.class_prompts()
    inputs = processor(images=[s.image for s in scenes], text=[p for _, p in classes], return_tensors="pt",
                       padding=True)
    logits = model(**inputs).logits_per_image  # (images, classes)
    predicted = [classes[i][0] for i in logits.argmax(dim=1).tolist()]
    return sum(p == s.objects[0].name for p, s in zip(predicted, scenes)) / len(scenes)


@torch.inference_mode()
def clip_zero_shot_centring(model, processor, seeds: Iterable[int]) -> tuple[float, float, int]:
    """clip_zero_shot without and with each modality's centroid removed (the images' over these scenes, the
    prompts' over the 18 class prompts): (accuracy, centred accuracy, scenes)."""
    scenes = [shapes_world.make_scene(s, n_objects=1) for s in seeds]
    classes = shapes_world.class_prompts()
    inputs = processor(images=[s.image for s in scenes], text=[p for _, p in classes], return_tensors="pt",
                       padding=True)
    out = model(**inputs)
    names = [name for name, _ in classes]
    labels = np.array([names.index(s.objects[0].name) for s in scenes])
    image_embeds, text_embeds = out.image_embeds.float().numpy(), out.text_embeds.float().numpy()
    return (matched_accuracy(image_embeds, text_embeds, labels), matched_accuracy(image_embeds, text_embeds, labels,
                                                                                  centred=True), len(scenes))



def patch_probe_grounding(clip_model, processor, seeds: Iterable[int]) -> float:
    """Share of two-object scenes where the text -> patch probe (core/concepts/clip_space.py) is higher, on average over the
    object's patches (weighted by how much of each patch it covers), for the named object than for the other."""
    from core.concepts.clip_space import patch_text_similarity

    wins = []
    for seed in seeds:
        scene = shapes_world.make_scene(seed, n_objects=2)
        named, other = scene.objects[seed % 2], scene.objects[1 - seed % 2]
        probe = patch_text_similarity(clip_model, processor, scene.image, f"a {named.name}")
        cover = [probe.patches.coverage(o.mask) for o in (named, other)]  # (rows, cols) each
        named_score, other_score = ((probe.cosine * c).sum() / c.sum() for c in cover)
        wins.append(named_score > other_score)
    return float(np.mean(wins))
