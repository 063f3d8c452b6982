"""Deletion and insertion curves: a map is faithful if the patches it ranks first are the ones the answer needs.

Deletion: grey out patches in the map's order (most relevant first) and watch P(answer) fall; a faithful map makes
it fall early, so a LOW area under the curve is good. Insertion: start from an all-grey image and reveal patches
in the same order; a faithful map makes it rise early, so a HIGH area is good. Both are compared with a random
order (mean over a few seeds) and, on a shapes scene, with the true object's mask (patches the named object covers
most, first): the oracle a good map should approach. Hidden patches are painted mid-grey (PatchGrid.hidden).

Cost: every curve point is one forward of BLIP (vision tower + question encoder + teacher-forced answer decoder),
so the points are few (STEP_FRACTIONS) and all images go through in batches.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.analysis import relevancy
from core.attention.patch_grid import PatchGrid
from core.concepts import cross_attention
from core.models import blip
from core.shapes import shapes_world

STEP_FRACTIONS = (0.0, 1 / 16, 1 / 8, 1 / 4, 3 / 8, 1 / 2, 3 / 4, 1.0)  # dense early: where the curves differ most
RANDOM_SEEDS = (0, 1, 2)
RANDOM, OBJECT_MASK = "random", "object mask"
BATCH = 16  # images per forward: full-size BLIP at 384 px holds ~16 x 577 tokens comfortably
THREADS = 1  # held-out summaries of the tiny models: 5 scenes took ~1 s on one thread, 19 s on two with the cores busy


@dataclass
class Curve:
    """One order's curves. counts: (K,) patches hidden (deletion) or shown (insertion) at each point;
    deletion, insertion: (K,) P(answer) there; fractions: counts / N, the x axis of the areas."""

    label: str
    counts: np.ndarray
    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_area(self) -> float:
        return area(self.fractions, self.deletion)

    @property
    def insertion_area(self) -> float:
        return area(self.fractions, self.insertion)


@dataclass
class Faithfulness:
    """answer and p_original: P(answer) with nothing hidden; curves: one per method, then random, then (on a shapes
    scene) the object mask."""

    answer: str
    p_original: float
    curves: list[Curve]

    def curve(self, label: str) -> Curve:
        return next(c for c in self.curves if c.label == label)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch on n intra-op threads inside the block, then restore the count (None: leave it as it is). The
    held-out summaries run thousands of tiny forwards, where threads cost more in waiting than they save."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def area(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoid area under y(x), x in [0, 1]."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def step_counts(n_patches: int, fractions=STEP_FRACTIONS) -> np.ndarray:
    """(K,) distinct patch counts, 0 and n_patches included."""
    return np.unique(np.round(np.asarray(fractions) * n_patches).astype(int))


@torch.inference_mode()
def answer_probabilities(vqa_model, processor, pictures: list[np.ndarray], question: str, answer: str) -> np.ndarray:
    """(B,) P(answer | picture, question) for each (H, W, 3) uint8 picture, teacher-forced, in batches (as
    faithfulness.answer_probability, one picture at a time)."""
    ids = relevancy.answer_ids(vqa_model, processor, answer)
    out = []
    for start in range(0, len(pictures), BATCH):
        chunk = [Image.fromarray(p) for p in pictures[start:start + BATCH]]
        inputs = processor(images=chunk, text=[question] * len(chunk), return_tensors="pt", truncation=True)
        encoded = vqa_model.text_encoder(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                         encoder_hidden_states=blip.vision_embeds(vqa_model, inputs.pixel_values))
        decoder_ids = torch.tensor([[vqa_model.decoder_start_token_id] + ids] * len(chunk))  # (B, 1 + A)
        logits = vqa_model.text_decoder(input_ids=decoder_ids,
                                        encoder_hidden_states=encoded.last_hidden_state).logits  # (B, 1 + A, V)
        probs = torch.softmax(logits[:, :-1], dim=-1)  # position a predicts token a + 1
        out.append(probs[:, torch.arange(len(ids)), torch.tensor(ids)].prod(dim=-1).numpy())  # (B,)
    return np.concatenate(out)


def order(scores: np.ndarray) -> np.ndarray:
    """(N,) scores -> patch indices, highest first (ties: lower index first)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def _pictures(patches: PatchGrid, ranked: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Deletion pictures (first c hidden), then insertion pictures (all but the first c hidden), for inner counts."""
    inner = counts[1:-1]
    deleted = [patches.hidden([int(i) for i in ranked[:c]]) for c in inner]
    inserted = [patches.hidden([int(i) for i in ranked[c:]]) for c in inner]
    return deleted + inserted


def curves(vqa_model, processor, patches: PatchGrid, question: str, answer: str, scores: dict[str, np.ndarray],
           object_coverage: np.ndarray | None = None, fractions=STEP_FRACTIONS,
           random_seeds=RANDOM_SEEDS) -> Faithfulness:
    """scores: label -> (N,) one map's patch scores (the chosen token's row). object_coverage: (N,) the named
    object's coverage of each patch (PatchGrid.coverage), for the oracle curve; None for a photo. Forwards:
    2 + 2 * (K - 2) per order (K points; the empty and full ends are shared)."""
    return curves_from(lambda pictures: answer_probabilities(vqa_model, processor, pictures, question, answer),
                       answer, patches, scores, object_coverage, fractions, random_seeds)


def curves_from(probabilities: Callable[[list[np.ndarray]], np.ndarray], answer: str, patches: PatchGrid,
                scores: dict[str, np.ndarray], object_coverage: np.ndarray | None = None, fractions=STEP_FRACTIONS,
                random_seeds=RANDOM_SEEDS) -> Faithfulness:
    """curves for any model: probabilities maps a list of (H, W, 3) uint8 pictures to (B,) P(answer) (BLIP's
    answer_probabilities, or ViLT's sigmoid score in core.analysis.faithfulness_table)."""
    n = patches.n_patches
    counts = step_counts(n, fractions)
    rng = np.random.default_rng(0)
    orders = [(label, order(s)) for label, s in scores.items()]
    orders += [(RANDOM, np.random.default_rng(seed).permutation(n)) for seed in random_seeds]
    if object_coverage is not None:  # ties among uncovered patches broken at random, not in reading order
        orders.append((OBJECT_MASK, np.lexsort((rng.random(n), -np.asarray(object_coverage)))))
    ends = [patches.image, patches.hidden(list(range(n)))]
    pictures = ends + [p for _, ranked in orders for p in _pictures(patches, ranked, counts)]
    p = np.asarray(probabilities(pictures))
    p_original, p_all_hidden, inner = p[0], p[1], len(counts) - 2
    per_order = p[2:].reshape(len(orders), 2, inner)  # (orders, deletion | insertion, K - 2)
    made: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for (label, _), (deleted, inserted) in zip(orders, per_order):
        made.setdefault(label, []).append((np.r_[p_original, deleted, p_all_hidden],
                                           np.r_[p_all_hidden, inserted, p_original]))
    return Faithfulness(answer, float(p_original), [
        Curve(label, counts, counts / n, np.mean([d for d, _ in runs], axis=0), np.mean([i for _, i in runs], axis=0))
        for label, runs in made.items()])


def named_object_mask(scene: shapes_world.Scene, question: str) -> np.ndarray:
    """(H, W) bool: the objects the question names by shape or colour (all of them when it names none)."""
    words = set(question.lower().replace("?", " ").split())
    named = [o for o in scene.objects if o.shape in words or o.color in words] or scene.objects
    return np.any([o.mask for o in named], axis=0)


def shapes_summary(vqa_model, processor, seeds,
                   token_of=cross_attention.naming_token) -> dict[str, tuple[float, float]]:
    """Mean (deletion area, insertion area) per order over two-object scenes, asking the colour of one object
    (seed % 2), each method's map read at the naming word (last layer, mean over heads for raw)."""
    areas: dict[str, list[tuple[float, float]]] = {}
    for seed in seeds:
        scene = shapes_world.make_scene(seed, n_objects=2)
        question = f"what color is the {scene.objects[seed % 2].shape}?"
        asked = cross_attention.ask(vqa_model, processor, scene.image, question, max_answer_tokens=2)
        explained = relevancy.explain(vqa_model, processor, scene.image, question, asked.answer)
        token = token_of(explained.tokens)
        scores = {method: values[token] for method, values in explained.maps().items()}
        coverage = asked.patches.coverage(named_object_mask(scene, question)).ravel()
        result = curves(vqa_model, processor, asked.patches, question, asked.answer, scores, coverage)
        for c in result.curves:
            areas.setdefault(c.label, []).append((c.deletion_area, c.insertion_area))
    return {label: tuple(float(v) for v in np.mean(pairs, axis=0)) for label, pairs in areas.items()}
