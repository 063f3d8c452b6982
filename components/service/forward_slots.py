"""The Streamlit side of the forward queue (core/classroom/forward_queue.py): every model forward of the result
caches takes a turn, and a student whose request waits sees its place in the line.

`queued` goes *under* a cache decorator, so only a cache miss (a real forward) takes a turn; a cached answer never
waits. `position_shown` goes around a service call, outside the caches: if forwards are running when the call
starts, a watcher thread (with the script's context) writes "2 questions ahead of yours" where the call sits on
the page, updates it as the line moves, and removes it when the answer is back. The rest of the page was already
drawn; Streamlit keeps the session live while the script waits.
"""
from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from core.classroom.forward_queue import ForwardQueue, default_queue, waiting_words

POLL_S = 0.25


@st.cache_resource(show_spinner=False)
def forwards() -> ForwardQueue:
    """One queue per server process, shared by every session."""
    return default_queue()


def queued(body: Callable) -> Callable:
    """Decorator for a cached function's body: the forward waits for a free slot, in arrival order."""
    @functools.wraps(body)
    def call(*args, **kwargs):
        with forwards().turn():
            return body(*args, **kwargs)
    return call


_SHOWING = contextvars.ContextVar("forward_queue_notice", default=False)  # an outer call already shows it


@contextmanager
def position_shown():
    """Around a service call: shows this session's place in the line while its forward waits. Inside another
    service call (a cached function calling a public one) it does nothing: the outer call shows it, from outside
    every cache (an element written from inside a cached function would be replayed with its result)."""
    queue = forwards()
    script = get_script_run_ctx()
    if _SHOWING.get() or script is None or not queue.running:  # idle queue: a miss gets a slot at once
        token = _SHOWING.set(True)
        try:
            yield
        finally:
            _SHOWING.reset(token)
        return
    token = _SHOWING.set(True)
    me, done, shown = threading.get_ident(), threading.Event(), []

    def watch() -> None:
        last = None
        while not done.wait(POLL_S):
            ahead = queue.ahead_of(me)
            if ahead is None or ahead == last:
                continue
            if not shown:
                shown.append(st.empty())  # at the call's place: the watcher runs in the call site's context
            shown[0].info(waiting_words(ahead), icon=":material/hourglass_top:")
            last = ahead

    watcher = threading.Thread(target=contextvars.copy_context().run, args=(watch,), daemon=True,
                               name="forward-queue-notice")
    add_script_run_ctx(watcher, script)
    watcher.start()
    try:
        yield
    finally:
        _SHOWING.reset(token)
        done.set()
        watcher.join()
        if shown:
            shown[0].empty()
