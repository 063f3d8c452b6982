"""Held-out accuracy of the bundled pack on the shapes world.

    python -m core.shapes.evaluate            # prints CLIP zero-shot, VQA, caption exact match and ViLT VQA accuracy

Every scorer goes through the model's processor, the same inference path the pages use, on scene seeds that
training never draws (core/shapes/train.py takes seeds below VALIDATION_SEED; the test set sits above TEST_SEED).
"""
from __future__ import annotations

import argparse
from typing import Iterable

import numpy as np
import torch

from core.analysis import faithfulness, grounding
from core.analysis.intervals import interval, range_with_interval, share_with_interval
from core.attention import Reduce
from core.concepts import patching
from core.shapes import shapes_world
from core.shapes.held_out import TEST_SEED, clip_zero_shot, patch_probe_grounding  # noqa: F401 (scorers listed here)


def _two_object_questions(seeds: Iterable[int]) -> tuple[list, list[str], list[str]]:
    """Two-object scenes, each asked 'what color is the {shape}?' about one of its objects (seed picks which)."""
    images, asked, answers = [], [], []
    for seed in seeds:
        scene = shapes_world.make_scene(seed, n_objects=2)
        target = scene.objects[seed % 2]
        images.append(scene.image)
        asked.append(f"what color is the {target.shape}?")
        answers.append(target.color)
    return images, asked, answers


@torch.inference_mode()
def vqa_accuracy(model, processor, seeds: Iterable[int]) -> float:
    images, asked, answers = _two_object_questions(seeds)
    inputs = processor(images=images, text=asked, return_tensors="pt", padding=True)
    generated = model.generate(**inputs, max_new_tokens=4)
    predicted = [t.strip() for t in processor.batch_decode(generated, skip_special_tokens=True)]
    return sum(p == a for p, a in zip(predicted, answers)) / len(answers)


@torch.inference_mode()
def caption_exact_match(model, processor, seeds: Iterable[int]) -> float:
    """Generated caption tokens equal the template caption's tokens, for scenes of 1-3 objects."""
    scenes = [shapes_world.make_scene(s) for s in seeds]
    inputs = processor(images=[s.image for s in scenes], return_tensors="pt")
    generated = model.generate(pixel_values=inputs.pixel_values, max_new_tokens=24)
    tokenizer = processor.tokenizer
    hits = 0
    for ids, scene in zip(generated.tolist(), scenes):
        words = [t for t in tokenizer.convert_ids_to_tokens(ids) if t not in tokenizer.all_special_tokens]
        hits += words == tokenizer.tokenize(shapes_world.caption(scene))
    return hits / len(scenes)


@torch.inference_mode()
def fusion_accuracy(model, processor, seeds: Iterable[int]) -> float:
    images, asked, answers = _two_object_questions(seeds)
    inputs = processor(images=images, text=asked, return_tensors="pt", padding=True)
    predicted = [model.config.id2label[i] for i in model(**inputs).logits.argmax(dim=1).tolist()]
    return sum(p == a for p, a in zip(predicted, answers)) / len(answers)


SCORERS = {"clip": clip_zero_shot, "vqa": vqa_accuracy, "caption": caption_exact_match, "fusion": fusion_accuracy}
DESCRIPTIONS = {
    "clip": "CLIP zero-shot accuracy, one-object scenes, 18 colour x shape classes",
    "vqa": "BLIP VQA accuracy, two-object scenes, 'what color is the <shape>?'",
    "caption": "BLIP caption exact match, 1-3 object scenes",
    "fusion": "ViLT VQA accuracy, two-object scenes, 'what color is the <shape>?'",
}


def main() -> None:
    from core.models import registry

    parser = argparse.ArgumentParser(description="Held-out accuracy of the bundled pack.")
    parser.add_argument("--scenes", type=int, default=1000)
    args = parser.parse_args()
    seeds = range(TEST_SEED, TEST_SEED + args.scenes)
    for role in registry.ROLES:
        loaded = registry.load("bundled", role)
        score = SCORERS[role](loaded.model, loaded.processor, seeds)
        print(f"{DESCRIPTIONS[role]:70s} {score:6.1%}  ({args.scenes} held-out scenes, 95% interval "
              f"{range_with_interval(score, args.scenes)})")
    clip = registry.load("bundled", "clip")
    area, cls, rolled = cls_object_focus(clip.model, clip.processor, range(TEST_SEED, TEST_SEED + 200))
    print(f"\nCLIP vision tower, 200 scenes: objects cover {area:.1%} of the image; they get {cls:.1%} of the last "
          f"layer's CLS attention ({cls / area:.1f}x their area share) and {rolled:.1%} of the rollout into CLS "
          f"({rolled / area:.1f}x)")
    probe = patch_probe_grounding(clip.model, clip.processor, range(TEST_SEED, TEST_SEED + 200))
    print(f"CLIP text -> patch probe, 200 two-object scenes: the named object's patches are closer to 'a <colour> "
          f"<shape>' than the other object's in {share_with_interval(probe, 200)} (chance 50%; CLIP never trained its "
          "patch tokens)")
    vqa = registry.load("bundled", "vqa")
    print_grounding(vqa, range(TEST_SEED, TEST_SEED + min(args.scenes, 500)))
    fusion = registry.load("bundled", "fusion")
    table = grounding.fusion_grounding_table(fusion.model, fusion.processor,
                                             range(TEST_SEED, TEST_SEED + min(args.scenes, 200)))
    for name, shares in (("text->image", table.text_to_image), ("image->text", table.image_to_text),
                         ("text->image, the question's other words (baseline for text->image)", table.other_tokens)):
        print(f"\nViLT grounding, {name}, shape word vs the named and the other object, {table.scenes} scenes "
              f"(chance {table.chance:.0%})")
        _print_shares(shares)
    print(_interval_line(table.text_to_image, table.scenes))
    for k in (2, 4, 8):
        top, random, n = faithfulness.masking_summary(vqa.model, vqa.processor, range(TEST_SEED, TEST_SEED + 100), k)
        print(f"masking {k} patches ({n} scenes): answer probability drops by {top:.3f} when the naming word's "
              f"most-attended patches are hidden, {random:.3f} for random patches")


def cls_object_focus(clip_model, processor, seeds) -> tuple[float, float, float]:
    """Mean over scenes of (share of the image the objects cover, share of the last layer's CLS attention on them,
    share of the rollout into CLS on them). Coverage-weighted by how much of each patch the objects fill."""
    area, cls, rolled = [], [], []
    for seed in seeds:
        scene = shapes_world.make_scene(seed)
        view = patching.patch_view(clip_model, processor, scene.image)
        cover = np.clip(sum(view.patches.coverage(o.mask) for o in scene.objects), 0, 1).ravel()
        cls_row = view.cls_attention[-1].mean(axis=0)  # (N,) last layer, head mean
        flow = view.rollout_into_cls(Reduce.MEAN, 0.0)  # (N,)
        area.append(cover.mean())
        cls.append((cls_row * cover).sum() / cls_row.sum())
        rolled.append((flow * cover).sum() / flow.sum())
    return float(np.mean(area)), float(np.mean(cls)), float(np.mean(rolled))


def print_grounding(vqa, seeds) -> None:
    table = grounding.grounding_table(vqa.model, vqa.processor, seeds)
    for name, shares in (("naming word", table.naming_word), ("question token most on the objects",
                                                              table.most_object_token),
                         ("the question's other words, averaged (the baseline to beat)", table.other_tokens)):
        print(f"\nBLIP VQA grounding, {name}: share of {table.scenes} two-object scenes where the named object's "
              f"patches get more cross-attention than the other object's (chance {table.chance:.0%})")
        _print_shares(shares)
    print(f"layer 0, head mean: naming word {share_with_interval(table.naming_word[0, -1], table.scenes)} vs "
          f"other words {share_with_interval(table.other_tokens[0, -1], table.scenes)}")
    print(_interval_line(table.naming_word, table.scenes))


def _interval_line(shares, n: int) -> str:
    """How uncertain one cell of a table of shares of n scenes is, at the table's best cell."""
    best = float(shares.max())
    low, high = interval(best, n)
    return (f"every cell is a share of n={n} scenes: a cell of {best:.0%} means {low:.0%}-{high:.0%} "
            f"(95% Wilson interval, about +-{(high - low) / 2 * 100:.0f} points)")


def _print_shares(shares) -> None:
    heads = shares.shape[1] - 1
    print("layer  " + "  ".join(f"head {h}" for h in range(heads)) + "  head mean")
    for layer, row in enumerate(shares):
        print(f"{layer:5d}  " + "  ".join(f"{v:6.0%}" for v in row[:-1]) + f"  {row[-1]:9.0%}")


if __name__ == "__main__":
    main()
