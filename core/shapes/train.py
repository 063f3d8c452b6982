"""Train the bundled pack on the shapes world and save it with `save_pretrained`.

    python -m core.shapes.train                 # CLIP; caption and ViLT side by side (one per core); VQA; REFINE
    python -m core.shapes.train --roles clip    # just one
    python -m core.shapes.train --device cuda --loader-workers 4   # on a GPU, scenes drawn by 4 processes per role
    python -m core.shapes.train --roles clip,fusion --passes refine  # just the second pass (REFINE)

Every training scene is drawn on one of the world's training backgrounds (shapes_world.TRAINING_BACKGROUNDS) and
every question in one of its phrasings, so that a scene a student draws on white, or "what is the colour of the
circle?", is not out of the world.

Fixed seeds throughout. Each role trains until its validation accuracy reaches its target or its step budget runs
out, whichever comes first; the log prints both. Held-out evaluation (the numbers to quote) is core/shapes/evaluate.py.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.models.registry import BUNDLED_DIR
from core.shapes import evaluate, shapes_world, tiny_models
from core.shapes.held_out import VALIDATION_SEED
from core.shapes.tiny_models import pixel_values

# Scene seeds: training draws from [0, VALIDATION_SEED); validation and the held-out test set sit far above it.
ROLE_SEEDS = {"clip": 1, "vqa": 2, "caption": 3, "fusion": 4}
# Training order: each stage starts from the stage before (tiny_models.INIT_FROM); roles in a stage run in parallel.
STAGES = (("clip",), ("caption", "fusion"), ("vqa",))
# After the chain, these roles train on from their own saved weights: a second, gentler cosine on scenes the first
# pass never drew (TrainConfig.refine_steps). Measured at 1000 held-out scenes a background, the first pass left CLIP
# and ViLT at 94% on random-colour backgrounds (every other background 98-100%); more steps in the first pass would
# change the CLIP that caption and ViLT start from, and so every role after it.
REFINE = ("clip", "fusion")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    batch_size: int = 64
    lr: float = 1e-3  # peak; measured: 2e-3 left BLIP VQA at chance (50%) after 4500 steps
    warmup_steps: int = 200
    weight_decay: float = 0.01
    eval_every: int = 500
    validation_scenes: int = 200  # per training background
    # Step budgets: calibration (DESIGN.md) put BLIP's colour-to-shape binding at ~7000 steps, ViLT's at ~4000 on
    # the grey world alone; five backgrounds and six phrasings need more.
    max_steps: dict[str, int] = field(
        default_factory=lambda: {"clip": 4000, "vqa": 16000, "caption": 12000, "fusion": 12000}
    )
    # Stop early once validation reaches this on every training background (the worst one decides).
    target: dict[str, float] = field(
        default_factory=lambda: {"clip": 0.99, "vqa": 0.97, "caption": 0.95, "fusion": 0.97}
    )
    # The second pass (REFINE): its own step budget, a lower peak, the same warmup and validation stop.
    refine_steps: dict[str, int] = field(default_factory=lambda: {"clip": 4000, "fusion": 6000})
    refine_lr: float = 3e-4


class Batches(torch.utils.data.Dataset):
    """Training batch `step` for one role, the same for every run and every loader process: scene seeds, their
    backgrounds and which question (in which phrasing) each scene is asked all follow from the step number."""

    def __init__(self, role: str, tokenizer, model_config, batch_size: int):
        self.role, self.tokenizer, self.config, self.batch_size = role, tokenizer, model_config, batch_size

    def _texts(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(texts, padding=True, return_tensors="pt")

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        return self(step)

    def __call__(self, step: int) -> dict[str, torch.Tensor]:
        seeds = range(step * self.batch_size, (step + 1) * self.batch_size)
        scenes = [shapes_world.make_scene(s, background=shapes_world.training_background(s)) for s in seeds]
        pixels = pixel_values(scenes)
        if self.role == "clip":
            enc = self._texts([shapes_world.caption(s) for s in scenes])
            return dict(input_ids=enc.input_ids, attention_mask=enc.attention_mask, pixel_values=pixels,
                        return_loss=True)
        if self.role == "caption":
            enc = self._texts([shapes_world.caption(s) for s in scenes])
            input_ids = enc.input_ids.clone()
            input_ids[:, 0] = self.config.text_config.bos_token_id  # BLIP's decoder starts from [DEC], not [CLS]
            labels = input_ids.masked_fill(enc.attention_mask == 0, -100)
            return dict(input_ids=input_ids, attention_mask=enc.attention_mask, pixel_values=pixels, labels=labels)

        rng = np.random.default_rng((ROLE_SEEDS[self.role], step))  # which question, in which phrasing
        asked = [shapes_world.questions(scene, phrasing=int(rng.integers(len(shapes_world.COLOR_QUESTIONS))))
                 for scene in scenes]
        pairs = [qa[rng.integers(len(qa))] for qa in asked]
        enc = self._texts([q for q, _ in pairs])
        if self.role == "vqa":
            bos, sep = self.config.text_config.bos_token_id, self.config.text_config.sep_token_id
            answers = self.tokenizer.convert_tokens_to_ids([a for _, a in pairs])
            labels = torch.tensor([[bos, a, sep] for a in answers])  # (B, 3): every answer is one word
            return dict(input_ids=enc.input_ids, attention_mask=enc.attention_mask, pixel_values=pixels,
                        labels=labels)
        if self.role == "fusion":
            labels = torch.zeros(len(pairs), self.config.num_labels)
            for i, (_, a) in enumerate(pairs):
                labels[i, self.config.label2id[a]] = 1.0
            return dict(**enc, pixel_values=pixels, pixel_mask=torch.ones(len(scenes), *pixels.shape[2:],
                        dtype=torch.long), labels=labels)
        raise ValueError(f"unknown role {self.role!r}")


def validation_accuracy(role: str, model, processor, n: int) -> dict[str, float]:
    """Accuracy on n validation scenes per training background; VQA roles are asked in every phrasing in turn."""
    seeds = range(VALIDATION_SEED, VALIDATION_SEED + n)
    kwargs = {"phrasing": None} if role in ("vqa", "fusion") else {}
    return {background: evaluate.SCORERS[role](model, processor, seeds, background=background, **kwargs)
            for background in shapes_world.TRAINING_BACKGROUNDS}


def train_role(role: str, config: TrainConfig = TrainConfig(), out_dir: Path = BUNDLED_DIR, threads: int = 1,
               device: str = "cpu", loader_workers: int = 0, max_seconds: float | None = None,
               refine: bool = False) -> dict:
    """Train one role from its starting point (tiny_models.INIT_FROM) and save it under out_dir/role. It stops at
    its validation target, its step budget or, when given, max_seconds of training (for a lent machine's limit;
    then the log says so and the step count is what it reached). With refine, the role instead trains on from its
    own weights in out_dir/role for config.refine_steps at config.refine_lr, on the batches after the first pass's
    budget (new scenes), and saves over them."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(threads)
    tokenizer = tiny_models.build_tokenizer()
    model, processor = tiny_models.BUILDERS[role](tokenizer)
    if refine:
        if not (out_dir / role / "config.json").exists():
            raise RuntimeError(f"the second pass trains on from {out_dir / role}: run the first pass first")
        model.load_state_dict(type(model).from_pretrained(out_dir / role).state_dict())
    elif role in tiny_models.INIT_FROM:
        source_role, source_class, initialise = tiny_models.INIT_FROM[role]
        source_dir = out_dir / source_role
        if not (source_dir / "config.json").exists():
            raise RuntimeError(f"train {source_role} first: the tiny {role} model starts from it ({source_dir})")
        initialise(model, source_class.from_pretrained(source_dir))
    model.to(device)
    batches = Batches(role, tokenizer, model.config, config.batch_size)
    peak_lr, max_steps, first_batch = config.lr, config.max_steps[role], 1
    if refine:
        peak_lr, max_steps, first_batch = config.refine_lr, config.refine_steps[role], config.max_steps[role] + 1
    steps = range(first_batch, first_batch + max_steps)  # batch numbers: they decide the scenes (Batches)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, sampler=steps,
                                         num_workers=loader_workers, prefetch_factor=8 if loader_workers else None,
                                         persistent_workers=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=config.weight_decay)

    def lr_at(step: int) -> float:  # linear warmup, then cosine to 10% (by the steps or the time limit, if sooner)
        if step < config.warmup_steps:
            return peak_lr * (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, max_steps - config.warmup_steps)
        if max_seconds is not None:
            progress = max(progress, (time.time() - start) / max_seconds)
        return peak_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    start, accuracy, step = time.time(), 0.0, 0
    for step, batch in enumerate(loader, start=1):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        out_of_time = max_seconds is not None and time.time() - start > max_seconds
        if step % config.eval_every == 0 or step == max_steps or out_of_time:
            model.eval().to("cpu")  # the scorers run the processor's CPU tensors, as the pages do
            per_background = validation_accuracy(role, model, processor, config.validation_scenes)
            model.to(device)
            accuracy = min(per_background.values())
            shown = "  ".join(f"{b} {a:.1%}" for b, a in per_background.items())
            label = f"{role} refine" if refine else role
            print(f"[{label}] step {step:5d}  loss {loss.item():.4f}  validation worst {accuracy:.1%} ({shown})  "
                  f"{time.time() - start:.0f}s", flush=True)
            if accuracy >= config.target[role]:
                break
            if out_of_time:
                print(f"[{role}] stopped at its time limit ({max_seconds:.0f} s) at step {step}", flush=True)
                break

    model.eval().to("cpu")
    target = out_dir / role
    model.save_pretrained(target)
    processor.save_pretrained(target)
    return dict(role=role + (" (refine)" if refine else ""), steps=step, validation=accuracy,
                seconds=time.time() - start)


def _train_one(role: str, out_dir: Path, device: str, loader_workers: int, max_seconds: float | None,
               refine: bool) -> dict:
    return train_role(role, out_dir=out_dir, device=device, loader_workers=loader_workers, max_seconds=max_seconds,
                      refine=refine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roles", default="clip,caption,fusion,vqa", help="comma-separated subset; they always "
                        "run in STAGES order, and a role needs the one it starts from already trained")
    parser.add_argument("--workers", type=int, default=2, help="roles trained at once, one CPU thread each")
    parser.add_argument("--out", type=Path, default=BUNDLED_DIR, help="where to save (default: the bundled pack)")
    parser.add_argument("--device", default="cpu", help="torch device for the training steps (validation runs on "
                        "the CPU); results differ from a CPU run in the last bits, not in accuracy")
    parser.add_argument("--loader-workers", type=int, default=0, help="processes drawing scenes, per role")
    parser.add_argument("--passes", choices=("first", "refine", "both"), default="both",
                        help="the chain of STAGES, the second pass of the REFINE roles, or both in turn (default)")
    parser.add_argument("--max-seconds", default="", help="optional time limit per role, e.g. clip=90,vqa=200 "
                        "(a lent machine's session limit); without it each role runs to its target or budget")
    args = parser.parse_args()
    roles = args.roles.split(",")
    unknown = set(roles) - {r for stage in STAGES for r in stage}
    if unknown:
        parser.error(f"unknown roles {sorted(unknown)}")
    limits = {role: float(seconds) for role, seconds in
              (item.split("=") for item in args.max_seconds.split(",") if item)}
    start = time.time()
    results = []
    stages = [(stage, False) for stage in STAGES] if args.passes != "refine" else []
    stages += [(REFINE, True)] if args.passes != "first" else []
    for stage, refine in stages:
        todo = [role for role in stage if role in roles]
        if todo:  # not multiprocessing.Pool: its daemonic workers cannot start scene-drawing loader processes
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(args.workers, len(todo)), mp_context=spawn) as pool:
                runs = [pool.submit(_train_one, role, args.out, args.device, args.loader_workers, limits.get(role),
                                    refine) for role in todo]
                results += [run.result() for run in runs]
    for r in sorted(results, key=lambda r: r["role"]):
        print(f"{r['role']:17s} {r['steps']:5d} steps  validation {r['validation']:.1%}  {r['seconds']:.0f}s")
    print(f"total {time.time() - start:.0f}s; saved to {args.out}")


if __name__ == "__main__":
    main()
