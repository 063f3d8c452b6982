"""Loaded bundled models, shared by the tests of one process (loading is the slow part)."""
from functools import lru_cache

from core.models import registry


@lru_cache(maxsize=None)
def bundled(role: str) -> registry.LoadedModel:
    return registry.load("bundled", role)
