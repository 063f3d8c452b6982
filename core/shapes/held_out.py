"""The held-out shapes scenes and the scorers the app itself runs (the live mini-CLIP's accuracy, the patch probe's
grounding rate, each bundled model's accuracy per background for the shift table). Runtime code imports this
module, never core/shapes/train.py or evaluate.py.

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
def clip_zero_shot(model, processor, seeds: Iterable[int], background: str = "grey") -> float:
    """One-object scenes classified among all colour x shape prompts."""
    scenes = [shapes_world.make_scene(s, n_objects=1, background=background) for s in seeds]
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
    """Share of two-object scenes where the text -> patch probe (core/concepts/clip_space.py) is higher, on average
    over the object's patches (weighted by how much of each patch it covers), for the named object than for the other."""
    from core.concepts.clip_space import patch_text_similarity

    wins = []
    for seed in seeds:
        scene = shapes_world.make_scene(seed, n_objects=2)
        named, other = scene.objects[seed % 2], scene.objects[1 - seed % 2]
        probe = patch_text_similarity(clip_model, processor, scene.image, shapes_world.with_article(named.name))
        cover = [probe.patches.coverage(o.mask) for o in (named, other)]  # (rows, cols) each
        named_score, other_score = ((probe.cosine * c).sum() / c.sum() for c in cover)
        wins.append(named_score > other_score)
    return float(np.mean(wins))


def _two_object_questions(seeds: Iterable[int], background: str = "grey",
                          phrasing: int | None = 0) -> tuple[list, list[str], list[str]]:
    """Two-object scenes, each asked 'what color is the {shape}?' (or another phrasing of it,
    shapes_world.COLOR_QUESTIONS; None: each scene its own, by seed) about one of its objects (seed picks which)."""
    images, asked, answers = [], [], []
    templates = shapes_world.COLOR_QUESTIONS
    for seed in seeds:
        scene = shapes_world.make_scene(seed, n_objects=2, background=background)
        target = scene.objects[seed % 2]
        images.append(scene.image)
        template = templates[(seed // 2 if phrasing is None else phrasing) % len(templates)]
        asked.append(template.format(shape=target.shape))
        answers.append(target.color)
    return images, asked, answers


@torch.inference_mode()
def vqa_accuracy(model, processor, seeds: Iterable[int], background: str = "grey",
                 phrasing: int | None = 0) -> float:
    images, asked, answers = _two_object_questions(seeds, background, phrasing)
    inputs = processor(images=images, text=asked, return_tensors="pt", padding=True)
    generated = model.generate(**inputs, max_new_tokens=4)
    predicted = [t.strip() for t in processor.batch_decode(generated, skip_special_tokens=True)]
    return sum(p == a for p, a in zip(predicted, answers)) / len(answers)


@torch.inference_mode()
def caption_exact_match(model, processor, seeds: Iterable[int], background: str = "grey") -> float:
    """Generated caption tokens equal the template caption's tokens, for scenes of 1-3 objects."""
    scenes = [shapes_world.make_scene(s, background=background) for s in seeds]
    inputs = processor(images=[s.image for s in scenes], return_tensors="pt")
    generated = model.generate(pixel_values=inputs.pixel_values, max_new_tokens=24)
    tokenizer = processor.tokenizer
    hits = 0
    for ids, scene in zip(generated.tolist(), scenes):
        words = [t for t in tokenizer.convert_ids_to_tokens(ids) if t not in tokenizer.all_special_tokens]
        hits += words == tokenizer.tokenize(shapes_world.caption(scene))
    return hits / len(scenes)


@torch.inference_mode()
def fusion_accuracy(model, processor, seeds: Iterable[int], background: str = "grey",
                    phrasing: int | None = 0) -> float:
    images, asked, answers = _two_object_questions(seeds, background, phrasing)
    inputs = processor(images=images, text=asked, return_tensors="pt", padding=True)
    predicted = [model.config.id2label[i] for i in model(**inputs).logits.argmax(dim=1).tolist()]
    return sum(p == a for p, a in zip(predicted, answers)) / len(answers)


SCORERS = {"clip": clip_zero_shot, "vqa": vqa_accuracy, "caption": caption_exact_match, "fusion": fusion_accuracy}
PHRASED = "other phrasings"  # the shift table's last column, VQA models only


def other_phrasing_seeds(seeds: Iterable[int]) -> list[int]:
    """The seeds that phrasing=None asks in a phrasing other than the canonical one."""
    return [s for s in seeds if s // 2 % len(shapes_world.COLOR_QUESTIONS)]


def shift_row(role: str, model, processor, seeds: Iterable[int]) -> dict[str, float]:
    """Held-out accuracy of one bundled role on every background of the world (shapes_world.BACKGROUNDS), plus, for
    the two VQA models, grey scenes asked in every other phrasing of the question (PHRASED): {column: accuracy}."""
    seeds = list(seeds)
    row = {b: SCORERS[role](model, processor, seeds, background=b) for b in shapes_world.BACKGROUNDS}
    if role in ("vqa", "fusion"):
        row[PHRASED] = SCORERS[role](model, processor, other_phrasing_seeds(seeds), phrasing=None)
    return row
