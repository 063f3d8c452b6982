"""An in-memory LRU cache keyed by the arguments' values, for what a page redraws on every rerun (figures, small
pictures) from arrays it already has.

A widget that only changes the view reruns the whole page script; whatever the page builds from unchanged arrays
is then built again unless it is cached. functools.lru_cache cannot take numpy arrays (unhashable), and
st.cache_resource's value hashing walks label lists item by item (it cost more than it saved here), so the key is
the pickled arguments: pickle writes values, so equal arguments give equal bytes and different arguments can only
give different bytes. Numpy arrays passed as arguments (and a PatchGrid's image) go in as dtype, shape and a SHA-256
of their data, hashed where they lie (a 384 px image: 0.25 ms, against 0.6 ms to copy it into the pickle and hash the
copy); anything else, arrays inside it included, is pickled whole (at C speed: a per-object hook cost 2 ms on a
150-row table).
A cached value is shared by every session: return only things nobody changes (bytes, FrozenFigure).

A frozen array (read-only, and so is every array under it) is hashed once: the shared results of
components/service/models.py are frozen, and hashing the hub pack's attention maps again on every page view was 14%
of a Cross-attention view's server time (py-spy, 30 students on one link). The digest is kept beside a weak
reference to the array that holds the data, so it goes with it, and a new array at a reused address is hashed anew.
(Nothing here makes a frozen array writeable again.)
"""
from __future__ import annotations

import functools
import hashlib
import pickle
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from core.attention.patch_grid import PatchGrid

T = TypeVar("T")


# (id of the array that holds the data, data address, shape, strides, dtype) -> (that array, _array_bytes): a
# property that slices a stored array returns a new view object on every call, so views are known by what they show
_frozen_digests: dict[tuple, tuple[weakref.ref, bytes]] = {}
_frozen_lock = threading.Lock()
_MAX_FROZEN = 4096


def _frozen_root(array: np.ndarray) -> np.ndarray | None:
    """The last array under `array` when nothing can change its data: it and every array under it are read-only,
    down to one that owns its data or to immutable bytes (an unpickled array's, e.g. from st.cache_data); else None
    (writeable somewhere, or a view of a torch tensor or a buffer that may change)."""
    root = array
    while isinstance(array, np.ndarray):
        if array.flags.writeable:
            return None
        root, array = array, array.base
    return root if array is None or isinstance(array, bytes) else None


def _array_bytes(value: np.ndarray) -> bytes:
    data = np.ascontiguousarray(value)
    head = pickle.dumps(("ndarray", data.dtype.str, data.shape), protocol=pickle.HIGHEST_PROTOCOL)
    return head + hashlib.sha256(memoryview(data).cast("B")).digest()


def _frozen_array_bytes(value: np.ndarray, root: np.ndarray) -> bytes:
    key = (id(root), value.__array_interface__["data"][0], value.shape, value.strides, value.dtype.str)
    with _frozen_lock:
        known = _frozen_digests.get(key)
    if known is not None and known[0]() is root:
        return known[1]
    part = _array_bytes(value)
    with _frozen_lock:
        if len(_frozen_digests) >= _MAX_FROZEN:  # drop the arrays that are gone (no callbacks: nothing runs in GC)
            for gone in [k for k, (ref, _) in _frozen_digests.items() if ref() is None]:
                del _frozen_digests[gone]
        if len(_frozen_digests) < _MAX_FROZEN:
            _frozen_digests[key] = (weakref.ref(root), part)
    return part


def _value_bytes(value) -> bytes:
    if isinstance(value, PatchGrid):  # its image hashed where it lies, as an array argument is
        return _value_bytes((value.patch_size, value.rows, value.cols)) + _value_bytes(value.image)
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        root = _frozen_root(value)
        return _array_bytes(value) if root is None else _frozen_array_bytes(value, root)
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def arguments_key(args: tuple, kwargs: dict) -> bytes:
    digest = hashlib.blake2b(digest_size=20)
    for name, value in [*enumerate(args), *sorted(kwargs.items())]:
        part = _value_bytes(value)
        digest.update(pickle.dumps((name, len(part))))  # position or name, and length: parts cannot run together
        digest.update(part)
    return digest.digest()


# What a session waits on while another session builds the same value (a name of its own, so a test can watch it)
_Flight = threading.Event


def value_cached(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: the last `maxsize` results by argument values; `fn.cache_clear()` empties it.

    A value is built once even when sessions ask for it together (a class opening one link): the first builds it,
    the others wait for that build and take its result. If that build raises, the next caller builds it itself."""

    def decorate(build: Callable[..., T]) -> Callable[..., T]:
        results: OrderedDict[bytes, T] = OrderedDict()
        building: dict[bytes, threading.Event] = {}
        lock = threading.Lock()

        @functools.wraps(build)
        def cached(*args, **kwargs) -> T:
            key = arguments_key(args, kwargs)
            while True:
                with lock:
                    if key in results:
                        results.move_to_end(key)
                        return results[key]
                    flight = building.get(key)
                    if flight is None:
                        flight = building[key] = _Flight()
                        break
                flight.wait()  # another session is building it; then look again
            try:
                result = build(*args, **kwargs)  # outside the lock: other values build meanwhile
                with lock:
                    results[key] = result
                    while len(results) > maxsize:
                        results.popitem(last=False)
            finally:
                with lock:
                    del building[key]
                flight.set()
            return result

        cached.cache_clear = results.clear
        return cached

    return decorate
