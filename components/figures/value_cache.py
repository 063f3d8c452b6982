"""An in-memory LRU cache keyed by the arguments' values, for what a page redraws on every rerun (figures, small
pictures) from arrays it already has.

A widget that only changes the view reruns the whole page script; whatever the page builds from unchanged arrays
is then built again unless it is cached. functools.lru_cache cannot take numpy arrays (unhashable), and
st.cache_resource's value hashing walks label lists item by item (it cost more than it saved here), so the key is
the pickled arguments: pickle writes values, so equal arguments give equal bytes and different arguments can only
give different bytes. Numpy arrays passed as arguments (and a PatchGrid's image) go in as dtype, shape and a SHA-256
of their data, hashed where they lie (a 384 px image: 0.25 ms, against 0.6 ms to copy it into the pickle and hash the copy); anything
else, arrays inside it included, is pickled whole (at C speed: a per-object hook cost 2 ms on a 150-row table).
A cached value is shared by every session: return only things nobody changes (bytes, FrozenFigure).
"""
from __future__ import annotations

import functools
import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from core.attention.patch_grid import PatchGrid

T = TypeVar("T")


def _value_bytes(value) -> bytes:
    if isinstance(value, PatchGrid):  # its image hashed where it lies, as an array argument is
        return _value_bytes((value.patch_size, value.rows, value.cols)) + _value_bytes(value.image)
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        data = np.ascontiguousarray(value)
        head = pickle.dumps(("ndarray", data.dtype.str, data.shape), protocol=pickle.HIGHEST_PROTOCOL)
        return head + hashlib.sha256(memoryview(data).cast("B")).digest()
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def arguments_key(args: tuple, kwargs: dict) -> bytes:
    digest = hashlib.blake2b(digest_size=20)
    for name, value in [*enumerate(args), *sorted(kwargs.items())]:
        part = _value_bytes(value)
        digest.update(pickle.dumps((name, len(part))))  # position or name, and length: parts cannot run together
        digest.update(part)
    return digest.digest()


def value_cached(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: the last `maxsize` results by argument values; `fn.cache_clear()` empties it."""

    def decorate(build: Callable[..., T]) -> Callable[..., T]:
        results: OrderedDict[bytes, T] = OrderedDict()
        lock = threading.Lock()

        @functools.wraps(build)
        def cached(*args, **kwargs) -> T:
            key = arguments_key(args, kwargs)
            with lock:
                if key in results:
                    results.move_to_end(key)
                    return results[key]
            result = build(*args, **kwargs)  # outside the lock: two sessions may build the same value once each
            with lock:
                results[key] = result
                while len(results) > maxsize:
                    results.popitem(last=False)
            return result

        cached.cache_clear = results.clear
        return cached

    return decorate
