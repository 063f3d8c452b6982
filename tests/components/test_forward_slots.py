"""A student whose forward waits sees its place in the line, and the notice goes once the answer is back; a cached
answer never waits. The turn is held by the test itself (events, no sleeps)."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from streamlit.testing.v1 import AppTest

from components.service import forward_slots

WAIT_S = 120


def _asking_script():
    import streamlit as st

    from components.service import models
    from core.inputs import images

    question = st.query_params.get("q", "which shape is drawn?")
    result = models.ask("bundled", images.sample_png("shapes: two objects"), question)
    st.subheader(f"Answer: {result.answer}")


def test_a_waiting_question_shows_its_place_and_the_notice_goes_with_the_answer(monkeypatch):
    shown: list[int] = []

    def recording_words(ahead: int) -> str:
        shown.append(ahead)
        return f"{ahead} ahead of yours (test)"

    monkeypatch.setattr(forward_slots, "waiting_words", recording_words)
    queue = forward_slots.forwards()
    with another_students_forward(queue):
        at, asking = _wait_in_line_then_answer(queue, shown)
    asking.join(WAIT_S)  # the turn is free again: the waiting question runs
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value.startswith("Answer: ")
    assert not [i for i in at.info if "ahead of yours" in i.value]  # the notice is gone with the answer


def _wait_in_line_then_answer(queue, shown: list[int]) -> tuple[AppTest, threading.Thread]:
    """A new question (a cache miss) runs in its own thread and waits for a turn: returns once the page has said
    how many are ahead of it."""
    at = AppTest.from_function(_asking_script, default_timeout=WAIT_S)
    at.query_params["q"] = "what color is the circle, waiting in line?"  # a new question: a cache miss
    asking = threading.Thread(target=at.run, daemon=True)
    asking.start()
    pause = threading.Event()  # never set: a bounded wait between looks
    for _ in range(WAIT_S * 20):  # until the page has said where it stands (the watcher polls every 0.25 s)
        if shown:
            break
        pause.wait(0.05)
    assert shown and shown[0] == 1  # one forward (the other student's) ahead of it
    assert queue.waiting == 1
    return at, asking


def test_a_cached_answer_does_not_wait_for_a_busy_queue():
    queue = forward_slots.forwards()
    first = AppTest.from_function(_asking_script, default_timeout=WAIT_S)
    first.query_params["q"] = "which shape is green, asked twice?"
    first.run()  # computed once, now cached
    with another_students_forward(queue):
        again = AppTest.from_function(_asking_script, default_timeout=WAIT_S)
        again.query_params["q"] = "which shape is green, asked twice?"
        again.run()  # would block until the turn is free if a cache hit took one
        assert not again.exception and again.subheader[0].value == first.subheader[0].value


@contextmanager
def another_students_forward(queue):
    """Another session's forward holds the turn for the body's duration."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        with queue.turn():
            holding.set()
            release.wait(WAIT_S)

    other = threading.Thread(target=hold, daemon=True)
    other.start()
    assert holding.wait(WAIT_S)
    try:
        yield
    finally:
        release.set()
        other.join(WAIT_S)
