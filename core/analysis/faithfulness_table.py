"""Which explanation method is most faithful, per model, on held-out shapes scenes, with 95% intervals.

For every held-out two-object scene asked "what color is the <shape>?", each method's map at the naming word (last
layer, mean over heads for raw attention, as the page's defaults) orders the patches, and core.analysis.deletion
draws the deletion and insertion curves of the model's own answer in that order. References on the same scene: a
random order (mean of `random_draws` orders, drawn per scene) and the true object mask (the named object's patches
first: the oracle). Per order, the table keeps every scene's two areas, so it can give:

- the mean deletion area (lower: more faithful) and insertion area (higher) with their 95% t-intervals
  (intervals.mean_interval: mean +- t(n - 1) * s / sqrt(n) over the scenes);
- the share of scenes where the order beats random on that scene (deletion area below random's; insertion area
  above), with its Wilson interval;
- the most faithful method, and whether it is separated from the runner-up: by non-overlapping intervals (the
  conservative reading) and by the paired per-scene difference's interval excluding 0.

Models: BLIP VQA (cross-attention; relevancy.explain, P(answer) teacher-forced through the answer decoder) and ViLT
(early fusion; relevancy_fusion.explain on the joint stream's text->image rows, P(answer) = sigmoid of the answer's
VQA logit, the score ViLT is trained on). Cost per scene: one explanation (forward + backward) and
2 + 2 * (K - 2) * (4 methods + random_draws + 1) batched forwards (K = len(STEP_FRACTIONS) = 8: 86 with 2 draws).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.analysis import deletion, relevancy, relevancy_fusion
from core.analysis.intervals import MeanInterval, mean_interval, share_with_interval, wilson
from core.concepts import cross_attention
from core.shapes import shapes_world

REFERENCES = (deletion.RANDOM, deletion.OBJECT_MASK)
RANDOM_DRAWS = 2  # per scene: the table averages over scenes, so the random reference's own noise averages out too
MODELS = {"vqa": "BLIP VQA (cross-attention)", "fusion": "ViLT (early fusion)"}


@dataclass(frozen=True)
class OrderRow:
    """One order's line of the table: its mean areas with intervals, and on how many scenes it beat random."""

    label: str
    deletion: MeanInterval
    insertion: MeanInterval
    beats_random_deletion: int  # scenes where its deletion area is below random's (0 for random itself)
    beats_random_insertion: int  # scenes where its insertion area is above random's
    scenes: int

    def beats_random_share(self, kind: str = "deletion") -> str:
        """'71% (66-76%, n=300)': the share of scenes it beat random on, Wilson interval, n."""
        wins = self.beats_random_deletion if kind == "deletion" else self.beats_random_insertion
        return share_with_interval(wins / self.scenes, self.scenes)


@dataclass(frozen=True)
class Verdict:
    """The most faithful method on one area (deletion: lowest; insertion: highest) and how sure the table is.

    separated: the best's interval and the runner-up's do not overlap. difference: the paired per-scene difference
    best - runner-up with its interval (negative is better for deletion, positive for insertion)."""

    kind: str
    best: str
    runner_up: str
    best_area: MeanInterval
    runner_up_area: MeanInterval
    difference: MeanInterval
    separated: bool

    @property
    def paired_significant(self) -> bool:
        return self.difference.excludes(0.0)

    def sentence(self) -> str:
        title = relevancy.METHOD_TITLES.get
        if self.separated:
            how = "its interval does not overlap the runner-up's"
        elif self.paired_significant:
            how = "the intervals overlap, but the paired per-scene difference's interval excludes 0"
        else:
            how = "not separated from the runner-up: the paired per-scene difference's interval includes 0"
        return (f"most faithful by {self.kind} area ({'lowest' if self.kind == 'deletion' else 'highest'}): "
                f"{title(self.best, self.best)} {self.best_area}, runner-up {title(self.runner_up, self.runner_up)} "
                f"{self.runner_up_area}; difference {self.difference}: {how}")


@dataclass
class FaithfulnessTable:
    """One model's per-scene areas. labels: (M,) the methods (relevancy.METHODS), then random, then object mask;
    deletion, insertion: (M, n) the area of each order on each scene; p_original: (n,) P(answer) as asked;
    answers_right: (n,) whether the explained answer (the model's own) is the true colour."""

    model: str
    labels: list[str]
    deletion: np.ndarray
    insertion: np.ndarray
    p_original: np.ndarray
    answers_right: np.ndarray

    @property
    def scenes(self) -> int:
        return int(self.deletion.shape[1])

    @property
    def methods(self) -> list[str]:
        return [label for label in self.labels if label not in REFERENCES]

    def areas(self, label: str, kind: str = "deletion") -> np.ndarray:
        """(n,) one order's per-scene areas."""
        return getattr(self, kind)[self.labels.index(label)]

    def rows(self) -> list[OrderRow]:
        random_del, random_ins = self.areas(deletion.RANDOM), self.areas(deletion.RANDOM, "insertion")
        return [OrderRow(label, mean_interval(self.areas(label)), mean_interval(self.areas(label, "insertion")),
                         int(np.sum(self.areas(label) < random_del)),
                         int(np.sum(self.areas(label, "insertion") > random_ins)), self.scenes)
                for label in self.labels]

    def verdict(self, kind: str = "deletion") -> Verdict:
        sign = 1 if kind == "deletion" else -1  # deletion: lower is better; insertion: higher
        ranked = sorted(self.methods, key=lambda m: sign * float(self.areas(m, kind).mean()))
        best, runner_up = ranked[0], ranked[1]
        best_area, runner_area = mean_interval(self.areas(best, kind)), mean_interval(self.areas(runner_up, kind))
        return Verdict(kind, best, runner_up, best_area, runner_area,
                       mean_interval(self.areas(best, kind) - self.areas(runner_up, kind)),
                       best_area.separated_from(runner_area))

    def accuracy(self) -> str:
        right = int(self.answers_right.sum())
        low, high = wilson(right, self.scenes)
        return f"{right / self.scenes:.0%} ({low:.0%}-{high:.0%}, n={self.scenes})"


def _scene(seed: int) -> tuple[shapes_world.Scene, shapes_world.SceneObject, shapes_world.SceneObject, str]:
    """A held-out two-object scene, the object asked about (seed % 2, as the other held-out tables), the other one,
    and the question."""
    scene = shapes_world.make_scene(seed, n_objects=2)
    named, other = scene.objects[seed % 2], scene.objects[1 - seed % 2]
    return scene, named, other, f"what color is the {named.shape}?"


def _random_seeds(seed: int, draws: int) -> tuple[int, ...]:
    return tuple(seed * 8 + i for i in range(draws))  # different random orders on every scene


def blip_scene(vqa_model, processor, seed: int, random_draws: int = RANDOM_DRAWS,
               fractions=deletion.STEP_FRACTIONS) -> tuple[deletion.Faithfulness, bool]:
    """One scene's curves for BLIP VQA, and whether its answer is right."""
    scene, named, _, question = _scene(seed)
    asked = cross_attention.ask(vqa_model, processor, scene.image, question, max_answer_tokens=2)
    explained = relevancy.explain(vqa_model, processor, scene.image, question, asked.answer)
    token = cross_attention.naming_token(explained.tokens)
    scores = {method: values[token] for method, values in explained.maps().items()}
    coverage = asked.patches.coverage(named.mask).ravel()
    result = deletion.curves(vqa_model, processor, asked.patches, question, asked.answer, scores, coverage,
                             fractions, _random_seeds(seed, random_draws))
    return result, asked.answer == named.color


@torch.inference_mode()
def fusion_probabilities(vilt_model, processor, pictures: list[np.ndarray], question: str, answer: str,
                         batch: int = deletion.BATCH) -> np.ndarray:
    """(B,) ViLT's score of `answer` (sigmoid of its VQA logit) for each (H, W, 3) uint8 picture, in batches."""
    index = vilt_model.config.label2id[answer]
    out = []
    for start in range(0, len(pictures), batch):
        chunk = [Image.fromarray(p) for p in pictures[start:start + batch]]
        inputs = processor(images=chunk, text=[question] * len(chunk), return_tensors="pt", padding=True)
        out.append(torch.sigmoid(vilt_model(**inputs).logits[:, index]).numpy())  # (B,)
    return np.concatenate(out)


def vilt_scene(vilt_model, processor, seed: int, random_draws: int = RANDOM_DRAWS,
               fractions=deletion.STEP_FRACTIONS) -> tuple[deletion.Faithfulness, bool]:
    """One scene's curves for ViLT (its top answer explained), and whether that answer is right."""
    scene, named, _, question = _scene(seed)
    explained = relevancy_fusion.explain(vilt_model, processor, scene.image, question)
    token = cross_attention.naming_token(explained.tokens)
    scores = {method: values[token] for method, values in explained.maps().items()}
    coverage = explained.patches.coverage(named.mask).ravel()
    result = deletion.curves_from(
        lambda pictures: fusion_probabilities(vilt_model, processor, pictures, question, explained.answer),
        explained.answer, explained.patches, scores, coverage, fractions, _random_seeds(seed, random_draws))
    return result, explained.answer == named.color


SCENE_CURVES: dict[str, Callable] = {"vqa": blip_scene, "fusion": vilt_scene}


def faithfulness_table(role: str, model, processor, seeds: Iterable[int], random_draws: int = RANDOM_DRAWS,
                       threads: int | None = deletion.THREADS) -> FaithfulnessTable:
    """The table for one model role ("vqa" or "fusion") over the given held-out scene seeds."""
    labels: list[str] | None = None
    areas, p_original, right = [], [], []
    with deletion.torch_threads(threads):
        for seed in seeds:
            result, correct = SCENE_CURVES[role](model, processor, seed, random_draws)
            labels = labels or [c.label for c in result.curves]
            areas.append([(c.deletion_area, c.insertion_area) for c in result.curves])
            p_original.append(result.p_original)
            right.append(correct)
    if labels is None:
        raise ValueError("a faithfulness table needs at least one scene")
    per_scene = np.asarray(areas)  # (n, M, 2)
    return FaithfulnessTable(MODELS[role], labels, per_scene[..., 0].T, per_scene[..., 1].T, np.asarray(p_original),
                             np.asarray(right))


def table_lines(table: FaithfulnessTable) -> list[str]:
    """The table as printed by `python -m core.evaluate`, one string per line."""
    title = relevancy.METHOD_TITLES.get
    lines = [f"{table.model}: deletion and insertion areas over {table.scenes} held-out two-object scenes "
             f"(95% t-interval of the mean; beats random: share of scenes, 95% Wilson interval). Answers right: "
             f"{table.accuracy()}; mean P(answer) as asked {table.p_original.mean():.3f}",
             f"{'order':24s} {'deletion (lower better)':30s} {'insertion (higher better)':30s} "
             f"{'beats random (deletion)':25s} beats random (insertion)"]
    for row in table.rows():
        wins = ("-", "-") if row.label == deletion.RANDOM else (row.beats_random_share("deletion"),
                                                                row.beats_random_share("insertion"))
        lines.append(f"{title(row.label, row.label):24s} {str(row.deletion):30s} {str(row.insertion):30s} "
                     f"{wins[0]:25s} {wins[1]}")
    lines += [table.verdict("deletion").sentence(), table.verdict("insertion").sentence()]
    return lines
