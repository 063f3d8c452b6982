"""Held-out accuracy of the bundled pack on the shapes world.

    python -m core.shapes.evaluate            # prints CLIP zero-shot, VQA, caption exact match and ViLT VQA accuracy

Every scorer goes through the model's processor, the same inference path the pages use, on scene seeds that
training never draws (core/shapes/train.py takes seeds below VALIDATION_SEED; the test set sits above TEST_SEED).
"""
from __future__ import annotations

import argparse

import numpy as np

from core.analysis import faithfulness, grounding
from core.analysis.intervals import interval, range_with_interval, share_with_interval
from core.attention import Reduce
from core.concepts import patching
from core.shapes import shapes_world
from core.shapes.held_out import (  # noqa: F401 (scorers listed here)
    PHRASED,
    SCORERS,
    TEST_SEED,
    caption_exact_match,
    clip_zero_shot,
    fusion_accuracy,
    other_phrasing_seeds,
    patch_probe_grounding,
    shift_row,
    vqa_accuracy,
)

SHORT_NAMES = {"clip": "CLIP", "vqa": "BLIP VQA", "caption": "BLIP caption", "fusion": "ViLT"}
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
    parser.add_argument("--shift-scenes", type=int, default=300,
                        help="held-out scenes per background (and per phrasing) for the shift table")
    parser.add_argument("--faithfulness-scenes", type=int, default=300,
                        help="held-out scenes for the explanation methods' faithfulness table and the masking controls")
    args = parser.parse_args()
    seeds = range(TEST_SEED, TEST_SEED + args.scenes)
    for role in registry.ROLES:
        loaded = registry.load("bundled", role)
        score = SCORERS[role](loaded.model, loaded.processor, seeds)
        print(f"{DESCRIPTIONS[role]:70s} {score:6.1%}  ({args.scenes} held-out scenes, 95% interval "
              f"{range_with_interval(score, args.scenes)})")
    print_shift_table(range(TEST_SEED, TEST_SEED + args.shift_scenes))
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
    print_masking(vqa, range(TEST_SEED, TEST_SEED + args.faithfulness_scenes))
    print_faithfulness(range(TEST_SEED, TEST_SEED + args.faithfulness_scenes))


def shift_table(seeds) -> dict[str, dict[str, float]]:
    """{role: held_out.shift_row(...)} for every bundled role."""
    from core.models import registry

    table = {}
    for role in registry.ROLES:
        loaded = registry.load("bundled", role)
        table[role] = shift_row(role, loaded.model, loaded.processor, seeds)
    return table


def print_shift_table(seeds) -> None:
    n = len(seeds)
    table = shift_table(seeds)
    columns = list(shapes_world.BACKGROUNDS) + [PHRASED]
    print(f"\nShift table: held-out accuracy per background, {n} scenes a cell (95% Wilson interval); 'other "
          "phrasings': grey scenes asked 'what is the colour of the <shape>?' and the other four phrasings")
    print(f"{'model':13s}" + "".join(f"{c:>19s}" for c in columns))
    for role, row in table.items():
        cells = []
        for column in columns:
            if column not in row:
                cells.append(f"{'-':>19s}")
                continue
            cell_n = n if column != PHRASED else len(other_phrasing_seeds(seeds))
            low, high = interval(row[column], cell_n)
            cells.append(f"{row[column]:>7.1%} ({low:.0%}-{high:.0%})")
        print(f"{SHORT_NAMES[role]:13s}" + "".join(f"{c:>19s}" for c in cells))


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


def print_masking(vqa, seeds, ks=(2, 4, 8)) -> None:
    """The masking test and its controls: mean drop in P(answer) with its 95% t-interval and n, per k."""
    for k in ks:
        summary = faithfulness.masking_summary(vqa.model, vqa.processor, seeds, k)
        print(f"\nBLIP VQA masking {k} patches, {summary.scenes} two-object scenes: mean drop in P(answer) "
              "(95% t-interval, n)")
        for control in faithfulness.CONTROLS:
            print(f"  {faithfulness.CONTROL_WORDS[control]:45s} {summary.drop(control)}")
        print(f"  scenes where the top-attended patches hurt more than random ones: "
              f"{summary.share_larger('top_attended', 'random')}; the named object's more than the other object's: "
              f"{summary.share_larger('named_object', 'other_object')}")


def print_faithfulness(seeds) -> None:
    """Which explanation method is most faithful, per model (core/analysis/faithfulness_table.py)."""
    from core.analysis import faithfulness_table
    from core.models import registry

    for role in faithfulness_table.MODELS:
        loaded = registry.load("bundled", role)
        table = faithfulness_table.faithfulness_table(role, loaded.model, loaded.processor, seeds)
        print()
        print("\n".join(faithfulness_table.table_lines(table)))


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
