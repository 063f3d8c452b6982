"""Loaded (through PYTHONPATH) by the server that tests/browser/test_browser_one_batch.py starts, and nothing else.

It makes a busy server's worst case happen every time: a session's messages are held until its run has finished,
so the whole run reaches the browser in one batch, after Streamlit's queue has folded each newer message for a
place on the page into an older one still waiting (streamlit.runtime.forward_msg_queue). Held at most 10 s, so a
run that never finishes still shows what it drew."""
import importlib.abc
import importlib.util
import sys
import time

HOLD_S = 10


def _hold_until_the_run_ends() -> None:
    from streamlit.runtime.app_session import AppSession

    flush = AppSession.flush_browser_queue

    def flush_when_finished(self):
        waiting = self._browser_queue._queue
        since = self.__dict__.setdefault("_held_since", time.monotonic())
        finished = any(message.WhichOneof("type") == "script_finished" for message in waiting)
        if waiting and not finished and time.monotonic() - since < HOLD_S:
            return []
        self.__dict__.pop("_held_since", None)
        return flush(self)

    AppSession.flush_browser_queue = flush_when_finished


class _AfterStreamlitLoads(importlib.abc.MetaPathFinder):
    """Patches once `streamlit run` imports its bootstrap: its runtime is importable then."""

    def find_spec(self, name, path, target=None):
        if name != "streamlit.web.bootstrap":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _hold_until_the_run_ends()

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AfterStreamlitLoads())
