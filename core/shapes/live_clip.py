"""Train a mini-CLIP from scratch on the shapes world, live, within a time budget.

The page's "train it yourself" button calls `train_live` with a callback, so the student watches the InfoNCE loss
fall and the image and caption clouds sort themselves out. It is the bundled CLIP's architecture (a real
`CLIPModel`, same tokenizer and processor), trained on one-object scenes so that a minute on 2 CPU cores is enough:
the scorer is the same held-out zero-shot test as the bundled pack's (`core.shapes.held_out.clip_zero_shot`).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from core.shapes import shapes_world, tiny_models
from core.shapes.tiny_models import pixel_values


@dataclass(frozen=True)
class LiveConfig:
    max_seconds: float = 60.0  # the budget on 2 cores; training stops at whichever limit comes first
    max_steps: int = 500  # measured here: ~0.06 s a step with 2 threads, 90%+ zero-shot well before 500 steps
    batch_size: int = 48
    lr: float = 2e-3  # higher than core.shapes.train's 1e-3: a short run, one-object captions, nothing to preserve
    warmup_steps: int = 30
    report_every: int = 10  # steps between callbacks: each one embeds the probe set for the live projection
    probe_scenes: int = 18  # one scene per colour x shape class, for the live projection
    seed: int = 0
    # Training scenes come from [0, VALIDATION_SEED) like core.shapes.train's; evaluation uses core.shapes.held_out.TEST_SEED.
    scene_seed_offset: int = 500_000_000


@dataclass
class LiveStep:
    """What the callback receives: the step, the running loss and the probe set's embeddings (unit length)."""

    step: int
    seconds: float
    loss: float
    probe_image_embeds: np.ndarray  # (P, D)
    probe_text_embeds: np.ndarray  # (P, D)


@dataclass
class LiveResult:
    model: object  # the trained CLIPModel, in eval mode
    processor: object
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)  # one per step
    step_seconds: list[float] = field(default_factory=list)  # time since start at the end of each step


def probe_scenes(n: int) -> list[shapes_world.Scene]:
    """n one-object scenes cycling through the colour x shape classes (fixed seeds, far from training's)."""
    classes = [(c, s) for c in shapes_world.COLORS for s in shapes_world.SHAPES]
    scenes, seed = [], 980_000_000
    for color, shape in classes[:n]:
        while True:  # the first seed that draws this class
            scene = shapes_world.make_scene(seed, n_objects=1)
            seed += 1
            if (scene.objects[0].color, scene.objects[0].shape) == (color, shape):
                scenes.append(scene)
                break
    return scenes


def probe_captions(n: int) -> list[str]:
    return [shapes_world.caption(s) for s in probe_scenes(n)]


@torch.inference_mode()
def _embed_probe(model, pixels: torch.Tensor, text: dict) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    out = model(pixel_values=pixels, **text)
    return out.image_embeds.numpy(), out.text_embeds.numpy()


def train_live(config: LiveConfig = LiveConfig(), on_step: Callable[[LiveStep], None] | None = None,
               threads: int | None = None) -> LiveResult:
    """Train a fresh mini-CLIP until `max_steps` or `max_seconds`. `on_step` sees a `LiveStep` every
    `report_every` steps and once at the end."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(config.seed)
    tokenizer = tiny_models.build_tokenizer()
    model, processor = tiny_models.build_clip(tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    probes = probe_scenes(config.probe_scenes)
    captions = [shapes_world.caption(s) for s in probes]
    probe_pixels = pixel_values(probes)
    probe_text = dict(tokenizer(captions, padding=True, return_tensors="pt"))
    token_cache: dict[str, torch.Tensor] = {}

    def batch(step: int) -> dict:
        first = config.scene_seed_offset + step * config.batch_size
        scenes = [shapes_world.make_scene(s, n_objects=1) for s in range(first, first + config.batch_size)]
        captions = [shapes_world.caption(s) for s in scenes]
        # one-object captions all have the same length: no padding, so the tokenised ids can be memoised
        ids = torch.stack([token_cache.setdefault(c, tokenizer(c, return_tensors="pt").input_ids[0])
                           for c in captions])
        return dict(input_ids=ids, pixel_values=pixel_values(scenes), return_loss=True)

    def lr_at(step: int, seconds: float) -> float:
        """Linear warmup, then cosine to 10% over the budget: steps or seconds, whichever runs out first, so a
        run cut short by a busy machine still anneals (measured: stopping at full lr costs ~20 points)."""
        if step < config.warmup_steps:
            return config.lr * (step + 1) / config.warmup_steps
        progress = max((step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps),
                       seconds / config.max_seconds)
        return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    def report(step: int, seconds: float, loss: float) -> None:
        if on_step is not None:
            image_embeds, text_embeds = _embed_probe(model, probe_pixels, probe_text)
            on_step(LiveStep(step, seconds, loss, image_embeds, text_embeds))

    start, losses, step_seconds, step = time.perf_counter(), [], [], 0
    report(0, 0.0, float("nan"))
    for step in range(1, config.max_steps + 1):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, time.perf_counter() - start)
        loss = model(**batch(step)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        seconds = time.perf_counter() - start
        step_seconds.append(seconds)
        out_of_time = seconds >= config.max_seconds
        if step % config.report_every == 0 or out_of_time or step == config.max_steps:
            report(step, seconds, float(np.mean(losses[-config.report_every:])))
        if out_of_time:
            break
    model.eval()
    return LiveResult(model, processor, step, time.perf_counter() - start, losses, step_seconds)
