"""Fair sharing of the model: forwards wait their turn, first come first served, a fixed number at a time.

A shared deployment runs every student's session as a thread of one process. Thirty questions at once on two cores
would otherwise run thirty forwards side by side, each with torch's own threads: all of them finish late, together,
and memory holds thirty sets of activations. Here at most `slots` forwards run at once (sized to the cores: one per
torch thread pool that fits), the rest wait in arrival order, and each waiter can ask how many requests are ahead of
it, so the page can say "2 questions ahead of yours". A thread that already holds a turn (a cached result computed
inside another, e.g. the answer inside the masking test) goes straight on: nesting never deadlocks.

Identical requests are not queued twice: the result caches (st.cache_data / st.cache_resource) hold a lock per key,
so the second student asking the same question waits for the first one's answer instead of computing it again.
"""
from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SLOTS_ENV = "MMA_FORWARD_SLOTS"


def slots_for(cores: int | None, threads_per_forward: int) -> int:
    """How many forwards fit side by side: one per `threads_per_forward` cores, at least one."""
    return max(1, (cores or 1) // max(1, threads_per_forward))


class ForwardQueue:
    """At most `slots` holders of a turn at once; the others wait in arrival order."""

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError(f"slots must be at least 1, not {slots}")
        self.slots = slots
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._waiting: deque[tuple[int, int]] = deque()  # (ticket, thread id), arrival order
        self._running: dict[int, int] = {}  # thread id -> depth of nested turns
        self.served = 0  # turns given (nested ones not counted)

    def ahead_of(self, thread_id: int) -> int | None:
        """Requests before this thread's: the running ones and those waiting ahead of it; None if it is not
        waiting (running, or not here)."""
        with self._cond:
            for position, (_, waiter) in enumerate(self._waiting):
                if waiter == thread_id:
                    return len(self._running) + position
            return None

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold one of the slots for the body; wait (in arrival order) while all are taken."""
        me = threading.get_ident()
        with self._cond:
            if me in self._running:  # nested: this thread's outer call already holds the turn
                self._running[me] += 1
            else:
                ticket = (next(self._tickets), me)
                self._waiting.append(ticket)
                while self._waiting[0] != ticket or len(self._running) >= self.slots:
                    self._cond.wait()
                self._waiting.popleft()
                self._running[me] = 1
                self.served += 1
                self._cond.notify_all()  # the next in line may fit in another free slot
        try:
            yield
        finally:
            with self._cond:
                self._running[me] -= 1
                if not self._running[me]:
                    del self._running[me]
                self._cond.notify_all()

    def run(self, compute: Callable[[], object]):
        with self.turn():
            return compute()


def default_queue() -> ForwardQueue:
    """Sized to this machine: $MMA_FORWARD_SLOTS, else cores // torch's intra-op threads."""
    if os.environ.get(SLOTS_ENV):
        return ForwardQueue(int(os.environ[SLOTS_ENV]))
    import torch

    return ForwardQueue(slots_for(os.cpu_count(), torch.get_num_threads()))


def waiting_words(ahead: int) -> str:
    """What a waiting student reads."""
    if ahead <= 0:
        return "Your question is being answered…"
    return (f"{ahead} question{'s' if ahead != 1 else ''} ahead of yours: the model answers one at a time here, in "
            "the order they came. Nothing is lost; this page goes on by itself.")
