"""Train the bundled pack on the shapes world and save it with `save_pretrained`.

    python -m core.shapes.train                 # CLIP; then caption and ViLT side by side (one per core); then VQA
    python -m core.shapes.train --roles clip    # just one

Fixed seeds throughout. Each role trains until its validation accuracy reaches its target or its step budget runs
out, whichever comes first; the log prints both. Held-out evaluation (the numbers to quote) is core/shapes/evaluate.py.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import time
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


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    batch_size: int = 64
    lr: float = 1e-3  # peak; measured: 2e-3 left BLIP VQA at chance (50%) after 4500 steps
    warmup_steps: int = 200
    weight_decay: float = 0.01
    eval_every: int = 500
    validation_scenes: int = 256
    # Step budgets: calibration (DESIGN.md) put BLIP's colour-to-shape binding at ~7000 steps, ViLT's at ~4000.
    max_steps: dict[str, int] = field(
        default_factory=lambda: {"clip": 1500, "vqa": 8000, "caption": 4000, "fusion": 6000}
    )
    # Stop early once validation reaches this: more steps would only cost the 20-minute training budget.
    target: dict[str, float] = field(
        default_factory=lambda: {"clip": 0.99, "vqa": 0.96, "caption": 0.95, "fusion": 0.96}
    )


class Batches:
    """Makes training batches for one role; tokenised texts are memoised (the templates repeat a lot)."""

    def __init__(self, role: str, tokenizer, model_config, batch_size: int):
        self.role, self.tokenizer, self.config, self.batch_size = role, tokenizer, model_config, batch_size
        self.rng = np.random.default_rng(ROLE_SEEDS[role])  # which question each scene is asked

    def _texts(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(texts, padding=True, return_tensors="pt")

    def __call__(self, step: int) -> dict[str, torch.Tensor]:
        seeds = range(step * self.batch_size, (step + 1) * self.batch_size)
        scenes = [shapes_world.make_scene(s) for s in seeds]
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

        pairs = [s_qa[self.rng.integers(len(s_qa))] for s_qa in map(shapes_world.questions, scenes)]
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


def validation_accuracy(role: str, model, processor, n: int) -> float:
    seeds = range(VALIDATION_SEED, VALIDATION_SEED + n)
    return evaluate.SCORERS[role](model, processor, seeds)


def train_role(role: str, config: TrainConfig = TrainConfig(), out_dir: Path = BUNDLED_DIR, threads: int = 1) -> dict:
    torch.manual_seed(config.seed)
    torch.set_num_threads(threads)
    tokenizer = tiny_models.build_tokenizer()
    model, processor = tiny_models.BUILDERS[role](tokenizer)
    if role in tiny_models.INIT_FROM:
        source_role, source_class, initialise = tiny_models.INIT_FROM[role]
        source_dir = out_dir / source_role
        if not (source_dir / "config.json").exists():
            raise RuntimeError(f"train {source_role} first: the tiny {role} model starts from it ({source_dir})")
        initialise(model, source_class.from_pretrained(source_dir))
    batches = Batches(role, tokenizer, model.config, config.batch_size)
    peak_lr, max_steps = config.lr, config.max_steps[role]
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=config.weight_decay)

    def lr_at(step: int) -> float:  # linear warmup, then cosine to 10%
        if step < config.warmup_steps:
            return peak_lr * (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, max_steps - config.warmup_steps)
        return peak_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    start, accuracy, step = time.time(), 0.0, 0
    for step in range(1, max_steps + 1):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        loss = model(**batches(step)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % config.eval_every == 0 or step == max_steps:
            model.eval()
            accuracy = validation_accuracy(role, model, processor, config.validation_scenes)
            print(f"[{role}] step {step:5d}  loss {loss.item():.4f}  validation {accuracy:.1%}  "
                  f"{time.time() - start:.0f}s", flush=True)
            if accuracy >= config.target[role]:
                break

    model.eval()
    target = out_dir / role
    model.save_pretrained(target)
    processor.save_pretrained(target)
    return dict(role=role, steps=step, validation=accuracy, seconds=time.time() - start)


def _train_one(role: str, out_dir: Path = BUNDLED_DIR) -> dict:
    return train_role(role, out_dir=out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roles", default="clip,caption,fusion,vqa", help="comma-separated subset; they always "
                        "run in STAGES order, and a role needs the one it starts from already trained")
    parser.add_argument("--workers", type=int, default=2, help="roles trained at once, one CPU thread each")
    parser.add_argument("--out", type=Path, default=BUNDLED_DIR, help="where to save (default: the bundled pack)")
    args = parser.parse_args()
    roles = args.roles.split(",")
    unknown = set(roles) - {r for stage in STAGES for r in stage}
    if unknown:
        parser.error(f"unknown roles {sorted(unknown)}")
    start = time.time()
    results = []
    for stage in STAGES:
        todo = [role for role in stage if role in roles]
        if todo:
            with multiprocessing.get_context("spawn").Pool(min(args.workers, len(todo))) as pool:
                results += pool.starmap(_train_one, [(role, args.out) for role in todo], chunksize=1)
    for r in sorted(results, key=lambda r: r["role"]):
        print(f"{r['role']:8s} {r['steps']:5d} steps  validation {r['validation']:.1%}  {r['seconds']:.0f}s")
    print(f"total {time.time() - start:.0f}s; saved to {args.out}")


if __name__ == "__main__":
    main()
