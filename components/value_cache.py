"""An in-memory LRU cache keyed by the arguments' values, for what a page redraws on every rerun (figures, small
pictures) from arrays it already has.

A widget that only changes the view reruns the whole page script; whatever the page builds from unchanged arrays
is then built again unless it is cached. functools.lru_cache cannot take numpy arrays (unhashable), and
st.cache_resource's value hashing walks label lists item by item (it cost more than it saved here), so the key is
the pickled arguments: pickle writes values, so equal arguments give equal bytes and different arguments can only
give different bytes. Numpy arrays go in as dtype, shape and a SHA-256 of their data, hashed where they lie (a
384 px image: 0.25 ms, against 0.6 ms to copy it into the pickle and hash the copy). A cached value is shared by
every session: return only things nobody changes (bytes, FrozenFigure).
"""
from __future__ import annotations

import functools
import hashlib
import io
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import numpy as np

T = TypeVar("T")


class _KeyPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, np.ndarray) and not obj.dtype.hasobject:
            data = np.ascontiguousarray(obj)
            return "ndarray", data.dtype.str, data.shape, hashlib.sha256(memoryview(data).cast("B")).digest()
        return None  # everything else is pickled as usual


def arguments_key(args: tuple, kwargs: dict) -> bytes:
    buffer = io.BytesIO()
    _KeyPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((args, sorted(kwargs.items())))
    return hashlib.blake2b(buffer.getbuffer(), digest_size=20).digest()


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
