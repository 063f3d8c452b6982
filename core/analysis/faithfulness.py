"""Faithfulness: if a token's attention marks the evidence, hiding those patches should hurt the answer more than
hiding as many random patches. Attention is evidence, not proof: this test is how to weigh it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.attention.patch_grid import PatchGrid
from core.concepts import cross_attention
from core.models import blip
from core.shapes import shapes_world


@dataclass
class MaskingResult:
    """The original answer's probability with no patch hidden, with the top-k attended patches hidden, and with k
    random patches hidden (mean over draws). top_patches: the k patch indices hidden first."""

    answer: str
    k: int
    p_original: float
    p_top_masked: float
    p_random_masked: float
    top_patches: list[int]
    top_masked_image: np.ndarray  # (H, W, 3) uint8


def answer_probability(vqa_model, processor, image: Image.Image, question: str, answer: str) -> float:
    """P(answer | image, question) under BLIP's answer decoder, teacher-forced: the product over its tokens."""
    encoding = blip.encode_question(vqa_model, processor, image, question)
    answer_ids = processor.tokenizer(answer, add_special_tokens=False).input_ids
    return float(torch.prod(blip.answer_token_probabilities(vqa_model, encoding.question_embeds, answer_ids)))


def masking_test(vqa_model, processor, patches: PatchGrid, question: str, answer: str, attention: np.ndarray, k: int,
                 seed: int = 0, random_draws: int = 5) -> MaskingResult:
    """attention: (n_patches,) the token's attention over patches (row-major); patches: the image as the model saw
    it. Hidden patches are painted mid-grey (PatchGrid.hidden): the processors' normalisation maps it to ~0."""
    def p(image: np.ndarray) -> float:
        return answer_probability(vqa_model, processor, Image.fromarray(image), question, answer)

    top = [int(i) for i in np.argsort(attention)[::-1][:k]]
    top_image = patches.hidden(top)
    rng = np.random.default_rng(seed)
    random_p = [p(patches.hidden(list(rng.choice(len(attention), size=k, replace=False))))
                for _ in range(random_draws)]
    return MaskingResult(answer, k, p(patches.image), p(top_image), float(np.mean(random_p)), top, top_image)


def masking_summary(vqa_model, processor, seeds, k: int = 4) -> tuple[float, float, int]:
    """Mean drop in the answer's probability when the naming word's top-k patches (attention averaged over layers
    and heads) are hidden, and when k random patches are, over two-object scenes. Returns (top, random, scenes)."""
    top_drops, random_drops = [], []
    for seed in seeds:
        scene = shapes_world.make_scene(seed, n_objects=2)
        question = f"what color is the {scene.objects[seed % 2].shape}?"
        result = cross_attention.ask(vqa_model, processor, scene.image, question, max_answer_tokens=2)
        row = result.token_patch_matrix.mean(axis=(0, 1))[cross_attention.naming_token(result.tokens)]
        m = masking_test(vqa_model, processor, result.patches, question, result.answer, row, k, seed=seed, random_draws=2)
        top_drops.append(m.p_original - m.p_top_masked)
        random_drops.append(m.p_original - m.p_random_masked)
    return float(np.mean(top_drops)), float(np.mean(random_drops)), len(top_drops)
