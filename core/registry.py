"""One place that knows which model plays which role, in which pack, and how to load it.

A *pack* is a set of checkpoints: `hub` (the real ones on the Hugging Face hub) or `bundled` (tiny models of the
same classes, trained on the shapes world by core/train.py and committed under models/bundled/). A *role* is what a
page needs: `clip`, `vqa`, `caption`, `fusion`. Pages ask for (pack, role) and never name a checkpoint.

Loading is always `from_pretrained` with eager attention (SDPA returns no attention weights), safetensors only,
no remote code: the bundled and hub packs go through exactly the same lines. Three guarantees, checked in `load`
and by tests/test_registry.py:
- only sources on the allowlist (`allowed_sources()`: the hub ids below and the bundled folders) are ever loaded;
- weights come from safetensors files only (`use_safetensors=True`; a bundled folder holding a pickle-format
  checkpoint is refused), so loading never unpickles, i.e. never runs code;
- `trust_remote_code=False` everywhere, and the model classes are named here (no Auto* model class), so a
  checkpoint's own Python files are never imported.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from transformers import (
    AutoProcessor,
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    CLIPModel,
    PreTrainedModel,
    ProcessorMixin,
    ViltForQuestionAnswering,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DIR = REPO_ROOT / "models" / "bundled"

PACKS = ("hub", "bundled")
ROLES = ("clip", "vqa", "caption", "fusion")
# clip16: CLIP ViT-B/16, a finer 14x14 grid for the patching page. The bundled pack has one vision tower, so there
# it is the same tiny CLIP as "clip".
OPTIONAL_ROLES = ("clip16",)
PACK_ENV = "MMA_PACK"  # set to "hub" or "bundled" to skip the automatic choice
HUB_PROBE_TIMEOUT_S = 3.0

HUB_IDS = {
    "clip": "openai/clip-vit-base-patch32",
    "vqa": "Salesforce/blip-vqa-base",
    "caption": "Salesforce/blip-image-captioning-base",
    "fusion": "dandelin/vilt-b32-finetuned-vqa",
    "clip16": "openai/clip-vit-base-patch16",
}
MODEL_CLASSES: dict[str, type[PreTrainedModel]] = {
    "clip": CLIPModel,
    "vqa": BlipForQuestionAnswering,
    "caption": BlipForConditionalGeneration,
    "fusion": ViltForQuestionAnswering,
    "clip16": CLIPModel,
}


LOAD_OPTIONS = {"use_safetensors": True, "trust_remote_code": False}  # passed to every from_pretrained
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")  # checkpoint formats that unpickle


class NotAllowedError(PermissionError):
    """A model source outside the registry's allowlist, or a checkpoint in a format that could run code."""


@dataclass(frozen=True)
class ModelSpec:
    pack: str
    role: str
    source: str  # a hub id or a local folder: whatever `from_pretrained` takes

    @property
    def label(self) -> str:
        return self.source if self.pack == "hub" else f"bundled tiny {MODEL_CLASSES[self.role].__name__}"


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: PreTrainedModel  # in eval mode; shared between sessions, so never mutated after loading
    processor: ProcessorMixin


def spec(pack: str, role: str) -> ModelSpec:
    if pack not in PACKS:
        raise ValueError(f"unknown pack {pack!r}; choose one of {PACKS}")
    if role not in ROLES + OPTIONAL_ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {ROLES + OPTIONAL_ROLES}")
    source = HUB_IDS[role] if pack == "hub" else str(BUNDLED_DIR / ("clip" if role == "clip16" else role))
    return ModelSpec(pack, role, source)


def allowed_sources() -> frozenset[str]:
    """Everything `load` may pass to `from_pretrained`: the hub ids above and the bundled folders."""
    bundled = {spec("bundled", role).source for role in ROLES + OPTIONAL_ROLES}
    return frozenset(HUB_IDS.values()) | bundled


def check_source(s: ModelSpec) -> None:
    """Refuse anything off the allowlist, and a local folder whose weights are not (only) safetensors."""
    if s.source not in allowed_sources():
        raise NotAllowedError(f"{s.source!r} is not one of the registry's models; refusing to load it")
    if s.pack != "bundled":
        return
    folder = Path(s.source)
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"bundled model {s.role!r} is missing at {folder}; run `python -m core.train`")
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles or not (folder / "model.safetensors").exists():
        raise NotAllowedError(f"bundled model {s.role!r} at {folder} must be model.safetensors only "
                              f"(found pickle files: {pickles or 'none'}; safetensors: "
                              f"{(folder / 'model.safetensors').exists()})")


def load(pack: str, role: str) -> LoadedModel:
    """Load one model and its processor. Slow (seconds to minutes for hub models): cache the result."""
    s = spec(pack, role)
    check_source(s)
    model = MODEL_CLASSES[role].from_pretrained(s.source, attn_implementation="eager", **LOAD_OPTIONS)
    model.eval()
    processor = AutoProcessor.from_pretrained(s.source, trust_remote_code=False)
    return LoadedModel(s, model, processor)


def hub_cached(role: str) -> bool:
    """True when the hub checkpoint's config is already in the local Hugging Face cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(HUB_IDS[role], "config.json"), str)


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """One small request to the hub; any failure or a slow answer counts as unreachable."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    import urllib.request

    try:
        with urllib.request.urlopen("https://huggingface.co/api/models/" + HUB_IDS["clip"], timeout=timeout) as r:
            return r.status == 200
    except Exception:  # DNS failure, refused, timeout, proxy: all mean "not now"
        return False


@dataclass(frozen=True)
class PackChoice:
    pack: str
    reason: str  # one sentence for the sidebar
    fallback: bool  # True when we wanted the hub and could not have it


def choose_pack(
    env: dict[str, str] | None = None,
    probe: Callable[[], bool] = hub_reachable,
    cached: Callable[[str], bool] = hub_cached,
) -> PackChoice:
    """hub when it answers or its checkpoints are cached, else bundled; $MMA_PACK overrides both."""
    env = os.environ if env is None else env
    forced = env.get(PACK_ENV, "").strip().lower()
    if forced:
        if forced not in PACKS:
            raise ValueError(f"{PACK_ENV}={forced!r}: choose one of {PACKS}")
        return PackChoice(forced, f"set by {PACK_ENV}={forced}", fallback=False)
    if all(cached(role) for role in ROLES):
        return PackChoice("hub", "hub checkpoints found in the local cache", fallback=False)
    if probe():
        return PackChoice("hub", "the Hugging Face hub is reachable", fallback=False)
    return PackChoice(
        "bundled",
        f"the Hugging Face hub did not answer within {HUB_PROBE_TIMEOUT_S:.0f} s, so the app uses the bundled tiny "
        "models trained on the shapes world",
        fallback=True,
    )
