"""The forward queue: a fixed number of turns at once, in arrival order, each waiter told how many are ahead, nested
turns pass, a failing body frees its slot. Threads are coordinated by events, never by sleeping for a time."""
from __future__ import annotations

import threading

import pytest

from core.classroom.forward_queue import ForwardQueue, slots_for, waiting_words

WAIT_S = 30  # generous bounds on event waits: a correct queue never gets near them


def wait_until(condition, what: str) -> None:
    done = threading.Event()
    for _ in range(WAIT_S * 100):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError(f"timed out waiting until {what}")


class Holder(threading.Thread):
    """A request that takes a turn and keeps it until released; records when it got in."""

    def __init__(self, queue: ForwardQueue, name: str, order: list[str]):
        super().__init__(name=name, daemon=True)
        self.queue, self.order = queue, order
        self.inside, self.release = threading.Event(), threading.Event()

    def run(self) -> None:
        with self.queue.turn():
            self.order.append(self.name)
            self.inside.set()
            assert self.release.wait(WAIT_S)


def test_one_slot_serves_in_arrival_order_and_tells_each_waiter_its_place():
    queue, order = ForwardQueue(1), []
    first = Holder(queue, "first", order)
    first.start()
    assert first.inside.wait(WAIT_S)
    waiters = []
    for name in ("second", "third", "fourth"):  # each arrives after the one before is in the line
        holder = Holder(queue, name, order)
        holder.start()
        waiters.append(holder)
        wait_until(lambda: queue.waiting == len(waiters), f"{name} waits")
    assert [queue.ahead_of(w.ident) for w in waiters] == [1, 2, 3]  # the running one, then those before it
    assert queue.ahead_of(first.ident) is None and queue.running == 1
    first.release.set()
    for position, holder in enumerate(waiters):
        assert holder.inside.wait(WAIT_S)
        assert queue.running == 1  # never two at once
        assert [queue.ahead_of(w.ident) for w in waiters[position + 1:]] == list(range(1, len(waiters) - position))
        holder.release.set()
    for holder in [first, *waiters]:
        holder.join(WAIT_S)
    assert order == ["first", "second", "third", "fourth"] and queue.served == 4


def test_two_slots_run_two_at_once_and_the_third_waits():
    queue, order = ForwardQueue(2), []
    holders = [Holder(queue, f"h{i}", order) for i in range(3)]
    holders[0].start(), holders[1].start()
    assert holders[0].inside.wait(WAIT_S) and holders[1].inside.wait(WAIT_S)
    holders[2].start()
    wait_until(lambda: queue.waiting == 1, "the third waits")
    assert queue.running == 2 and queue.ahead_of(holders[2].ident) == 2
    holders[0].release.set()
    assert holders[2].inside.wait(WAIT_S)
    for holder in holders:
        holder.release.set()
        holder.join(WAIT_S)


def test_a_nested_turn_in_the_same_thread_goes_straight_on():
    queue = ForwardQueue(1)
    with queue.turn():
        with queue.turn():  # a cached result computed inside another: would deadlock if it queued again
            assert queue.running == 1
        assert queue.running == 1
    assert queue.running == 0 and queue.served == 1


def test_a_failing_forward_frees_its_slot():
    queue = ForwardQueue(1)
    with pytest.raises(RuntimeError):
        with queue.turn():
            raise RuntimeError("out of memory")
    assert queue.running == 0 and queue.run(lambda: 42) == 42


def test_slots_fit_the_cores_and_the_words_say_the_place():
    assert slots_for(2, 2) == 1 and slots_for(16, 4) == 4 and slots_for(None, 2) == 1 and slots_for(1, 8) == 1
    with pytest.raises(ValueError):
        ForwardQueue(0)
    assert waiting_words(2).startswith("2 questions ahead of yours")
    assert waiting_words(1).startswith("1 question ahead of yours")
    assert "being answered" in waiting_words(0)
