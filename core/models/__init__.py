"""Models: the role table (`roles`) and one adapter per model family that owns its internals (which submodule,
which output, where the CLS token is, generate-then-rerun for attentions). Concept modules (core/concepts/patching.py,
core/concepts/cross_attention.py, ...) call an adapter, never a model's submodules.

A new family (whisper, dinov2) is one module here exposing at least IMAGE_TOKENS (or its own token layout),
`patch_size`/`grid` where it has patches and `full_size_processor`, plus its entry in FAMILIES and its rows in
roles.ROLE_TABLE.
"""
from __future__ import annotations

from types import ModuleType

from core.models import blip, clip, dinov2, vilt, whisper
from core.models.roles import BY_NAME, ROLE_TABLE, Role, role
from core.models.tokens import ImageTokens

FAMILIES: dict[str, ModuleType] = {"clip": clip, "blip": blip, "vilt": vilt, "dinov2": dinov2, "whisper": whisper}


def adapter(role_name: str) -> ModuleType:
    """The family module that knows this role's internals."""
    return FAMILIES[role(role_name).family]


def image_tokens(role_name: str) -> ImageTokens:
    """Where the CLS token and the patches sit among this role's image tokens."""
    return adapter(role_name).IMAGE_TOKENS


__all__ = ["BY_NAME", "FAMILIES", "ROLE_TABLE", "ImageTokens", "Role", "adapter", "image_tokens", "role"]
