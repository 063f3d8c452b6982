"""Faithfulness: if a token's attention marks the evidence, hiding those patches should hurt the answer more than
hiding as many random patches. Attention is evidence, not proof: this test is how to weigh it.

Two controls on a shapes scene, where both objects' pixels are known, say what "hurt more" should mean: hiding k
random patches ON the named object (what the answer truly needs: the bar the attended patches should reach) and k
patches of the OTHER object (as colourful and as salient, but not asked about: it should hurt about as little as
random patches). If the attended patches hurt like the named object's, attention found the evidence; if like the
other object's, it found a salient thing, not the one asked about.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
from PIL import Image

from core.analysis import deletion
from core.analysis.intervals import MeanInterval, mean_interval, share_with_interval
from core.attention.patch_grid import PatchGrid
from core.concepts import cross_attention
from core.models import blip
from core.shapes import shapes_world

OBJECT_PATCH_COVERAGE = 0.5  # a patch is "on" an object when the object fills at least half of it


@dataclass
class MaskingResult:
    """The original answer's probability with no patch hidden, with the top-k attended patches hidden, and with k
    random patches hidden (mean over draws). top_patches: the k patch indices hidden first. On a shapes scene (both
    coverages given to masking_test) also: k random patches of the named object hidden (mean over draws), and k
    patches of the other object hidden (mean over draws); None otherwise."""

    answer: str
    k: int
    p_original: float
    p_top_masked: float
    p_random_masked: float
    top_patches: list[int]
    top_masked_image: np.ndarray  # (H, W, 3) uint8
    p_named_object_masked: float | None = None
    p_other_object_masked: float | None = None


def answer_probability(vqa_model, processor, image: Image.Image, question: str, answer: str) -> float:
    """P(answer | image, question) under BLIP's answer decoder, teacher-forced: the product over its tokens."""
    encoding = blip.encode_question(vqa_model, processor, image, question)
    answer_ids = processor.tokenizer(answer, add_special_tokens=False).input_ids
    return float(torch.prod(blip.answer_token_probabilities(vqa_model, encoding.question_embeds, answer_ids)))


def object_patches(coverage: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """(N,) one object's coverage of each patch -> k patch indices on it: drawn at random among the patches it fills
    at least OBJECT_PATCH_COVERAGE of, topped up with the next most covered ones when it has fewer than k (a small
    triangle may fill only 2-3 patches)."""
    coverage = np.asarray(coverage, dtype=np.float64).ravel()
    on = np.flatnonzero(coverage >= OBJECT_PATCH_COVERAGE)
    if len(on) >= k:
        return [int(i) for i in rng.choice(on, size=k, replace=False)]
    on_object = set(on.tolist())
    rest = [int(i) for i in np.argsort(-coverage, kind="stable") if int(i) not in on_object]
    return [int(i) for i in rng.permutation(on)] + rest[: k - len(on)]


def masking_test(vqa_model, processor, patches: PatchGrid, question: str, answer: str, attention: np.ndarray, k: int,
                 seed: int = 0, random_draws: int = 5, named_coverage: np.ndarray | None = None,
                 other_coverage: np.ndarray | None = None) -> MaskingResult:
    """attention: (n_patches,) the token's attention over patches (row-major); patches: the image as the model saw
    it. named_coverage, other_coverage: (n_patches,) the named and the other object's coverage of each patch, for
    the two object controls (random_draws draws each). Hidden patches are painted mid-grey (PatchGrid.hidden): the
    processors' normalisation maps it to ~0. All pictures go through BLIP in one batched call."""
    top = [int(i) for i in np.argsort(attention)[::-1][:k]]
    rng = np.random.default_rng(seed)
    hidden = [top] + [list(rng.choice(len(attention), size=k, replace=False)) for _ in range(random_draws)]
    controls = named_coverage is not None and other_coverage is not None
    if controls:
        hidden += [object_patches(named_coverage, k, rng) for _ in range(random_draws)]
        hidden += [object_patches(other_coverage, k, rng) for _ in range(random_draws)]
    pictures = [patches.image] + [patches.hidden(h) for h in hidden]
    p = deletion.answer_probabilities(vqa_model, processor, pictures, question, answer)
    draws = [p[2 + i * random_draws: 2 + (i + 1) * random_draws] for i in range(3)]  # random, named, other
    return MaskingResult(answer, k, float(p[0]), float(p[1]), float(np.mean(draws[0])), top, pictures[1],
                         float(np.mean(draws[1])) if controls else None,
                         float(np.mean(draws[2])) if controls else None)


CONTROLS = ("top_attended", "random", "named_object", "other_object")
CONTROL_WORDS = {
    "top_attended": "the naming word's top-k attended patches",
    "random": "k random patches",
    "named_object": "k random patches on the named object",
    "other_object": "k patches of the other object",
}


@dataclass
class MaskingSummary:
    """How much hiding k patches drops P(answer), per scene, for each choice of patches (CONTROLS); each array is
    (scenes,) p_original - p_masked (positive: the answer got less likely)."""

    k: int
    top_attended: np.ndarray
    random: np.ndarray
    named_object: np.ndarray
    other_object: np.ndarray

    @property
    def scenes(self) -> int:
        return len(self.top_attended)

    def drop(self, control: str) -> MeanInterval:
        """The mean drop over the scenes with its 95% t-interval."""
        return mean_interval(getattr(self, control))

    def share_larger(self, control: str, than: str) -> str:
        """'83% (79-87%, n=300)': scenes where `control` dropped P(answer) more than `than` did, Wilson interval."""
        return share_with_interval(float(np.mean(getattr(self, control) > getattr(self, than))), self.scenes)


def masking_summary(vqa_model, processor, seeds: Iterable[int], k: int = 4, random_draws: int = 2,
                    threads: int | None = deletion.THREADS) -> MaskingSummary:
    """Drops in the answer's probability over two-object scenes asked 'what color is the <shape>?' (seed % 2 picks
    the object), hiding: the naming word's top-k patches (attention averaged over layers and heads), k random
    patches, k random patches on the named object, k patches of the other object (random_draws draws each)."""
    with deletion.torch_threads(threads):
        per_scene = [_scene_drops(vqa_model, processor, seed, k, random_draws) for seed in seeds]  # (scenes, 4)
    return MaskingSummary(k, *np.asarray(per_scene, dtype=np.float64).reshape(-1, len(CONTROLS)).T)


def _scene_drops(vqa_model, processor, seed: int, k: int, random_draws: int) -> tuple[float, ...]:
    """One scene's drops in P(answer), in CONTROLS order."""
    scene = shapes_world.make_scene(seed, n_objects=2)
    named, other = scene.objects[seed % 2], scene.objects[1 - seed % 2]
    question = f"what color is the {named.shape}?"
    result = cross_attention.ask(vqa_model, processor, scene.image, question, max_answer_tokens=2)
    row = result.token_patch_matrix.mean(axis=(0, 1))[cross_attention.naming_token(result.tokens)]
    coverage = [result.patches.coverage(o.mask).ravel() for o in (named, other)]
    m = masking_test(vqa_model, processor, result.patches, question, result.answer, row, k, seed=seed,
                     random_draws=random_draws, named_coverage=coverage[0], other_coverage=coverage[1])
    return tuple(m.p_original - p for p in (m.p_top_masked, m.p_random_masked, m.p_named_object_masked,
                                             m.p_other_object_masked))
