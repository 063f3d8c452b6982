"""Keep loaded models within a memory budget: least recently used out first.

A free Streamlit Community Cloud app gets 690 MB-2.7 GB of RAM, and the four full-size hub models weigh about
3.3 GB in fp32 (BLIP VQA alone 1.4 GB). So the app keeps only as many models as fit in `budget_bytes` of weights and
evicts the least recently used ones *before* loading another, so the old and the new never sit in memory together.

A model's size is known once it has been loaded; a model never seen before is assumed to need the whole budget,
so everything else is evicted first. A model larger than the budget on its own is still loaded (alone).
"""
from __future__ import annotations

import ctypes
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_BUDGET_MB = 1600  # fits BLIP VQA (1.4 GB) alone, or CLIP B/32 + ViLT, or CLIP + BLIP caption


def weight_bytes(model) -> int:
    """Bytes of a torch module's parameters and buffers."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc keeps them otherwise, and RSS stays high)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the pages are reused by the next load anyway
        pass


class ModelBudget:
    """A thread-safe LRU of loaded models whose weights stay within `budget_bytes`.

    get(key, load, size) returns the cached value or calls load(); `size(value)` gives its bytes."""

    def __init__(self, budget_bytes: int, size: Callable[[object], int] = lambda v: weight_bytes(v.model)):
        self.budget_bytes = budget_bytes
        self._size = size
        self._entries: OrderedDict[Hashable, object] = OrderedDict()  # oldest first
        self._known_sizes: dict[Hashable, int] = {}  # survives eviction: the next load of that key is planned
        self._lock = threading.RLock()
        self.loads = 0  # how many times `load` ran: a test counts cache hits with it
        self.evictions = 0

    def keys(self) -> list[Hashable]:
        """Loaded keys, least recently used first."""
        return list(self._entries)

    def loaded_bytes(self) -> int:
        return sum(self._known_sizes[k] for k in self._entries)

    def _make_room(self, needed: int) -> None:
        evicted = False
        while self._entries and self.loaded_bytes() + needed > self.budget_bytes:
            self._entries.popitem(last=False)
            self.evictions += 1
            evicted = True
        if evicted:
            release_memory()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            self._make_room(self._known_sizes.get(key, self.budget_bytes))
            value = load()
            self.loads += 1
            self._known_sizes[key] = self._size(value)
            self._make_room(self._known_sizes[key])  # a model of unknown size may still overflow: evict the rest
            self._entries[key] = value
            return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            release_memory()
