"""What one request cost: tokens in, image tokens or audio frames, attention weights computed, FLOPs and latency.

Two parts, measured differently:
- `Count` (FLOPs by torch's FlopCounterMode, attention weights by counting every attention softmax) depends on the
  input's shapes only, and counting adds overhead, so `counted` runs a forward under the counters once per (model,
  shapes) and remembers the answer for as long as the model lives.
- latency is this request's own forward, timed with time.perf_counter where it runs (`timed`), never under a counter.

Attention entries are the weights a forward computed: for every attention softmax of shape (batch, heads, queries,
keys), batch x heads x queries x keys, summed over layers and, in generation, over decoding steps. A softmax inside a
cross-attention module (BLIP's `crossattention`, Whisper's `encoder_attn`) counts as cross, any other as self.
Counted at the op level (eager attention's softmax, or a fused scaled-dot-product kernel's q and k), so whatever the
model runs is counted, including the vision tower and the decoder's steps that return no attention tensors.

A `Cost` is made where the forward ran and travels on the result; results are cached, so `computed_now(cost)` says
whether this thread measured it since `begin_run()` (the page run started) or it was served from a cache.
"""
from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

R = TypeVar("R")

CROSS_MODULES = ("crossattention", "encoder_attn", "cross_attn")  # cross-attention modules' names (BLIP, Whisper)
# inference mode dispatches composite ops undecomposed (softmax.int, scaled_dot_product_attention); grad mode, the
# ops they decompose into. Counted only in the first form this thread's dispatch shows, so never twice.
_SOFTMAX = {torch.ops.aten.softmax.int, torch.ops.aten._softmax.default, torch.ops.aten._safe_softmax.default}
_FUSED = {torch.ops.aten.scaled_dot_product_attention.default,  # q, k first; no softmax op seen under it
          torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default,
          torch.ops.aten._scaled_dot_product_efficient_attention.default,
          torch.ops.aten._scaled_dot_product_flash_attention.default}


@dataclass(frozen=True)
class Count:
    """What a forward of these shapes computes: the same for every input of the same shapes."""

    flops: int  # torch.utils.flop_counter's total (a multiply-add counts 2)
    self_attention: int  # attention weights in self-attention: batch x heads x queries x keys, summed
    cross_attention: int  # the same inside cross-attention modules (queries from text, keys from image or audio)

    @property
    def attention_entries(self) -> int:
        return self.self_attention + self.cross_attention


@dataclass(frozen=True)
class Cost:
    """One request's cost. media_tokens: image tokens (patches + CLS) or audio frames, named by `media`."""

    text_tokens: int
    media_tokens: int
    media: str  # "image tokens" or "audio frames"
    count: Count
    latency_s: float  # this result's forward(s), timed when it was computed (no queue wait, no model load)
    detail: str = ""  # what the media tokens are, in words: "64 patches + CLS"
    # tells this computation apart from a copy served from a cache (see computed_now)
    id: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)

    @property
    def attention_entries(self) -> int:
        return self.count.attention_entries

    @property
    def flops(self) -> int:
        return self.count.flops


class _AttentionCounter(TorchDispatchMode):
    """Counts the attention weights of every softmax over (batch, heads, queries, keys) run in this thread."""

    def __init__(self, inside_cross: Callable[[], bool]):
        super().__init__()
        self.inside_cross = inside_cross
        self.self_entries = 0
        self.cross_entries = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        entries = 0
        if func in _SOFTMAX and out.dim() == 4:  # (B, heads, Q, K); a classifier's softmax is 2-D
            entries = out.numel()
        elif func in _FUSED:
            q, k = args[0], args[1]  # (B, heads, Q, d), (B, heads, K, d)
            entries = q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2]
        if entries:
            if self.inside_cross():
                self.cross_entries += entries
            else:
                self.self_entries += entries
        return out


@contextmanager
def _cross_scope(model: torch.nn.Module) -> Iterator[Callable[[], bool]]:
    """Hooks on the model's cross-attention modules, this thread only (the model is shared by every session's
    thread); always removed. Yields a function: is this thread inside one now?"""
    me, depth, handles = threading.get_ident(), [0], []

    def enter(*_):
        if threading.get_ident() == me:
            depth[0] += 1

    def leave(*_):
        if threading.get_ident() == me:
            depth[0] -= 1

    try:
        for name, module in model.named_modules():
            if name.rsplit(".", 1)[-1] in CROSS_MODULES:
                handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
        yield lambda: depth[0] > 0
    finally:
        for handle in handles:
            handle.remove()


def count(model: torch.nn.Module, forward: Callable[[], object]) -> Count:
    """Run `forward` (which uses `model`) once under torch's FLOP counter and the attention counter."""
    with torch.inference_mode(), _cross_scope(model) as inside_cross:
        with FlopCounterMode(display=False) as flops, _AttentionCounter(inside_cross) as attention:
            forward()
    return Count(int(flops.get_total_flops()), attention.self_entries, attention.cross_entries)


_COUNTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {shapes: Count}; dies with the model
_COUNTS_LOCK = threading.Lock()


def counted(model: torch.nn.Module, shapes: Hashable, forward: Callable[[], object]) -> Count:
    """The Count of `forward` for inputs of these shapes: counted on the first sight of (model, shapes), then
    remembered. `shapes` must fix every shape the forward sees (for generation: the number of tokens generated)."""
    with _COUNTS_LOCK:
        known = _COUNTS.get(model, {}).get(shapes)
    if known is None:
        known = count(model, forward)
        with _COUNTS_LOCK:
            _COUNTS.setdefault(model, {})[shapes] = known
    return known


def timed(forward: Callable[[], R]) -> tuple[R, float]:
    """(forward's result, seconds it took): the request's own latency, measured where it runs."""
    start = time.perf_counter()
    result = forward()
    return result, time.perf_counter() - start


_RUN = threading.local()  # .ids: the Costs measured in this thread since begin_run()


def begin_run() -> None:
    """A page run starts in this thread: the costs measured before it are no longer "this request's"."""
    _RUN.ids = set()


def measured(text_tokens: int, media_tokens: int, media: str, count_: Count, latency_s: float,
             detail: str = "") -> Cost:
    """A Cost made where its forward ran, remembered as computed in this thread's run."""
    cost = Cost(text_tokens, media_tokens, media, count_, latency_s, detail)
    if not hasattr(_RUN, "ids"):
        _RUN.ids = set()
    _RUN.ids.add(cost.id)
    return cost


def computed_now(cost: Cost) -> bool:
    """Whether this thread computed `cost` since its run began (False: a cache served it)."""
    return cost.id in getattr(_RUN, "ids", ())


def _si(n: float, unit: str) -> str:
    """12300 -> "12.3 k", 4.1e8 FLOP -> "0.41 GFLOP": three significant figures, no more."""
    for scale, prefix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if n >= scale:
            return f"{n / scale:.3g}{prefix}{unit}"
    return f"{n:.3g}{' ' + unit if unit else ''}"


def _seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def readout(cost: Cost, now: bool) -> str:
    """One line: "text tokens 9 · image tokens 65 (64 patches + CLS) · attention weights 12.3 k (self 10 k, cross
    2.3 k) · 0.41 GFLOP · 38 ms, computed now" (or "38 ms when computed; served from cache now")."""
    media = f"{cost.media} {cost.media_tokens:,}" + (f" ({cost.detail})" if cost.detail else "")
    parts = [f"text tokens {cost.text_tokens:,}"] if cost.text_tokens else []
    attention = f"attention weights {_si(cost.attention_entries, '')}"
    if cost.count.cross_attention:
        attention += (f" (self {_si(cost.count.self_attention, '')}, "
                      f"cross {_si(cost.count.cross_attention, '')})")
    when = ", computed now" if now else " when computed; served from cache now"
    return " · ".join([*parts, media, attention, _si(cost.flops, "FLOP"), _seconds(cost.latency_s) + when])
