"""Predict, then reveal: grading a student's guess against what the model actually did.

Three kinds of question: "which patch will X look at?" (the guess is a patch, graded by the rank of its
attention), "which range will this number fall in?" (one of a few labelled bins) and "which of these will the model
pick?" (one of named options, e.g. captions, graded against the model's scores).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOP_K = 3  # a patch guess counts as a hit when it is among the model's 3 most attended patches


@dataclass(frozen=True)
class PatchVerdict:
    guess: int  # the guessed patch, reading order
    rank: int  # 1 = the model's most attended patch
    n_patches: int
    guess_weight: float  # the guessed patch's attention
    top_weight: float  # the most attended patch's attention
    top: tuple[int, ...]  # the TOP_K most attended patches, best first

    @property
    def hit(self) -> bool:
        return self.rank <= len(self.top)

    @property
    def sentence(self) -> str:
        if self.rank == 1:
            return "Spot on: your patch is the one the model attended to most."
        if self.hit:
            return f"Close: your patch is number {self.rank} of {self.n_patches} by attention."
        return (f"Not this time: your patch is number {self.rank} of {self.n_patches}, with "
                f"{self.guess_weight / max(self.top_weight, 1e-12):.0%} of the top patch's attention.")


def grade_patch(values: np.ndarray, guess: int, top_k: int = TOP_K) -> PatchVerdict:
    """values: (N,) or (rows, cols) attention over the patches; guess: a patch index in reading order."""
    flat = np.asarray(values, dtype=float).ravel()  # (N,)
    if not 0 <= guess < flat.size:
        raise ValueError(f"patch {guess} is outside the {flat.size} patches")
    order = np.argsort(-flat, kind="stable")  # most attended first; ties keep reading order
    rank = int(np.nonzero(order == guess)[0][0]) + 1
    return PatchVerdict(guess, rank, flat.size, float(flat[guess]), float(flat[order[0]]),
                        tuple(int(i) for i in order[:top_k]))


@dataclass(frozen=True)
class Bins:
    """Labelled ranges for a number in [0, 1]: edges (k + 1,) increasing, labels (k,)."""
    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self):
        if len(self.edges) != len(self.labels) + 1 or list(self.edges) != sorted(self.edges):
            raise ValueError("bins need increasing edges, one more than labels")

    def label_of(self, value: float) -> str:
        i = int(np.searchsorted(self.edges, value, side="right")) - 1
        return self.labels[min(max(i, 0), len(self.labels) - 1)]


SHARE_BINS = Bins((0.0, 0.1, 0.4, 0.7, 1.0), ("under 10%", "10-40%", "40-70%", "over 70%"))


@dataclass(frozen=True)
class ChoiceVerdict:
    guess: str
    truth: str
    value: float  # the number behind the truth

    @property
    def hit(self) -> bool:
        return self.guess == self.truth

    @property
    def sentence(self) -> str:
        verdict = "Right" if self.hit else f"Not quite: you said {self.guess}"
        return f"{verdict}. The model's value is {self.value:.0%}, which is {self.truth}."


def grade_choice(value: float, guess: str, bins: Bins = SHARE_BINS) -> ChoiceVerdict:
    if guess not in bins.labels:
        raise ValueError(f"{guess!r} is not one of {bins.labels}")
    return ChoiceVerdict(guess, bins.label_of(value), float(value))


@dataclass(frozen=True)
class OptionVerdict:
    guess: str
    truth: str  # the option the model ranked first
    ranking: tuple[str, ...]  # every option, the model's first choice first

    @property
    def hit(self) -> bool:
        return self.guess == self.truth

    @property
    def sentence(self) -> str:
        place = self.ranking.index(self.guess) + 1
        if self.hit:
            return f"Right: the model ranks “{self.truth}” first."
        return f"Not quite: the model ranks “{self.truth}” first; yours comes {place} of {len(self.ranking)}."


def grade_option(options: list[str], scores: np.ndarray, guess: str) -> OptionVerdict:
    """A guess among named options (captions, answers) against the model's scores for them (higher is better)."""
    if guess not in options:
        raise ValueError(f"{guess!r} is not one of the options")
    if len(options) != len(scores):
        raise ValueError(f"{len(options)} options vs {len(scores)} scores")
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    ranking = tuple(options[i] for i in order)
    return OptionVerdict(guess, ranking[0], ranking)
