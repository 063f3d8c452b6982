"""Grounding: does the word that names an object attend to that object?

On a two-object shapes scene we know both objects' pixels. A word's attention over the patch grid *grounds* the
named object when the named object's patches get more of that attention than the other object's patches. Chance is
50%. (Comparing with the object's area share instead would be too easy: almost any attention prefers the colourful
objects to the grey background.) Attention is never trained to do this: these numbers show what the model learned.

Chance is not the bar to beat, though: self-attention mixes the shape word into every question token from the first
layer on, so the question's other words ("what", "color", "is", "the") also ground the named object well above 50%.
That share, averaged over those words, is the baseline the naming word must beat (`other_tokens`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from core.concepts import cross_attention, early_fusion
from core.shapes import shapes_world


def object_mass(attention: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """attention: (..., rows, cols) grids; coverage: (rows, cols) -> (...): attention that falls on the object."""
    return (attention * coverage).sum(axis=(-2, -1))


def grounded(attention: np.ndarray, named: np.ndarray, other: np.ndarray) -> np.ndarray:
    """True where the named object's coverage-weighted attention beats the other object's. Shapes as object_mass."""
    return object_mass(attention, named) > object_mass(attention, other)


def other_word_positions(tokens: list[str], naming: int) -> list[int]:
    """Positions of the question's word tokens other than the naming word: no [CLS]/[SEP]/[PAD], no punctuation."""
    return [i for i, token in enumerate(tokens)
            if i != naming and not (token.startswith("[") and token.endswith("]"))
            and any(ch.isalnum() for ch in token)]


@dataclass
class GroundingTable:
    """Share of scenes in which the attention grounded the named object, per layer (rows) and head (columns; the
    last column is the mean over heads), for the naming word, for the question token that looks at the objects
    most, and for the question's other word tokens (the baseline: each scene scores the share of those tokens that
    ground the named object, so a cell is a mean of scenes x tokens). chance = 0.5."""

    naming_word: np.ndarray  # (layers, heads + 1)
    most_object_token: np.ndarray  # (layers, heads + 1)
    scenes: int
    other_tokens: np.ndarray  # (layers, heads + 1), the baseline the naming word must beat
    chance: float = 0.5


def grounding_table(vqa_model, processor, seeds: Iterable[int]) -> GroundingTable:
    naming, most, others = [], [], []
    for seed in seeds:
        scene = shapes_world.make_scene(seed, n_objects=2)
        target, other = scene.objects[seed % 2], scene.objects[1 - seed % 2]
        result = cross_attention.ask(vqa_model, processor, scene.image, f"what color is the {target.shape}?",
                                     max_answer_tokens=1)
        rows, cols = result.grid
        maps = result.token_patch_matrix.reshape(*result.token_patch_matrix.shape[:3], rows, cols)  # (L, H, T, r, c)
        maps = np.concatenate([maps, maps.mean(axis=1, keepdims=True)], axis=1)  # (L, H + 1, T, r, c)
        named_cov, other_cov = (result.patches.coverage(o.mask) for o in (target, other))
        word = result.tokens.index(target.shape)
        naming.append(grounded(maps[:, :, word], named_cov, other_cov))
        on_objects = object_mass(maps, named_cov) + object_mass(maps, other_cov)  # (L, H + 1, T)
        best = on_objects[:, :, 1:-1].argmax(axis=-1) + 1  # skip [CLS] and [SEP]
        chosen = np.take_along_axis(maps, best[:, :, None, None, None], axis=2)[:, :, 0]
        most.append(grounded(chosen, named_cov, other_cov))
        rest = other_word_positions(result.tokens, word)
        others.append(grounded(maps[:, :, rest], named_cov, other_cov).mean(axis=-1))  # (L, H + 1) over tokens
    return GroundingTable(np.mean(naming, axis=0), np.mean(most, axis=0), len(naming), np.mean(others, axis=0))


@dataclass
class FusionGroundingTable:
    """ViLT, two-object scenes, 'what color is the <shape>?': share of scenes, per layer (rows) and head (columns;
    last = head mean), where text->image: the shape word's attention lands more on the named object than on the
    other; image->text: the named object's patches attend more to the shape word than the other object's patches
    do (coverage-weighted mean). other_tokens: the text->image share for the question's other word tokens, averaged
    over them (the baseline for text_to_image). chance = 0.5."""

    text_to_image: np.ndarray  # (layers, heads + 1)
    image_to_text: np.ndarray  # (layers, heads + 1)
    scenes: int
    other_tokens: np.ndarray  # (layers, heads + 1)
    chance: float = 0.5


def fusion_grounding_table(vilt_model, processor, seeds: Iterable[int]) -> FusionGroundingTable:
    t2i, i2t, others = [], [], []
    for seed in seeds:
        scene = shapes_world.make_scene(seed, n_objects=2)
        target, other = scene.objects[seed % 2], scene.objects[1 - seed % 2]
        result = early_fusion.fuse(vilt_model, processor, scene.image, f"what color is the {target.shape}?")
        word = result.tokens.index(target.shape)
        weights = np.concatenate([result.attentions, result.attentions.mean(axis=1, keepdims=True)], axis=1)
        named_cov, other_cov = (result.patches.coverage(o.mask) for o in (target, other))
        layers, heads = weights.shape[:2]
        looked = np.array([[result.text_to_patches(weights[l, h], word) for h in range(heads)]
                           for l in range(layers)])  # (L, H + 1, rows, cols)
        t2i.append(grounded(looked, named_cov, other_cov))
        rest = other_word_positions(result.tokens[: result.n_text], word)  # text tokens only
        looked_rest = np.array([[[result.text_to_patches(weights[l, h], t) for t in rest] for h in range(heads)]
                                for l in range(layers)])  # (L, H + 1, T_other, rows, cols)
        others.append(grounded(looked_rest, named_cov, other_cov).mean(axis=-1))
        read = np.array([[[[result.patch_to_text(weights[l, h], r, c)[word] for c in range(result.grid[1])]
                           for r in range(result.grid[0])] for h in range(heads)] for l in range(layers)])
        named_mean = object_mass(read, named_cov) / named_cov.sum()
        other_mean = object_mass(read, other_cov) / other_cov.sum()
        i2t.append(named_mean > other_mean)
    return FusionGroundingTable(np.mean(t2i, axis=0), np.mean(i2t, axis=0), len(t2i), np.mean(others, axis=0))
