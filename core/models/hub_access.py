"""Whether this process may talk to the Hugging Face hub, decided once, and which hub files are already on disk.

A classroom's Wi-Fi drops; a proxy accepts connections and never answers. Left to itself, every
`from_pretrained` asks the hub first, and huggingface_hub retries five times (~70 s a model) or, on a silent
network, waits with no timeout at all. So the app never lets a load find out for itself:
- a hub checkpoint whose files are all in the local cache (`missing_files` is empty) loads from disk only
  (`local_files_only=True`): no request at all, whatever the network does;
- anything else needs the hub, and whether the hub answers is asked once (`probe`, a few seconds at most, started
  in the background on first use); while it does not answer, the answer is asked again in the background at most
  every `RETRY_S`, never on a page's time;
- huggingface_hub itself stays offline (its own switch, flipped at run time) until the probe has heard the hub:
  `local_files_only` alone still lets it look up "agent harnesses" on the hub for its user-agent header, once
  per process, waiting up to 3 s on a silent network;
- every request huggingface_hub makes has a timeout (its default client has none).
"""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping

PROBE_TIMEOUT_S = 3.0  # one small API request; slower than this counts as "no hub" for this process
RETRY_S = 300.0  # while the hub does not answer, ask again in the background at most this often
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 15.0  # for every request huggingface_hub makes (downloads included)
OFFLINE_ENV = "HF_HUB_OFFLINE"

WEIGHTS, WEIGHTS_INDEX = "model.safetensors", "model.safetensors.index.json"
# What from_pretrained + AutoProcessor.from_pretrained read from a checkpoint of this app's families: the config,
# the weights, the image processor's settings, the tokenizer's settings, and its vocabulary in one of its forms.
NEEDED_FILES = ("config.json", "preprocessor_config.json", "tokenizer_config.json")
VOCABULARIES = (("tokenizer.json",), ("vocab.txt",), ("vocab.json", "merges.txt"))


def endpoint() -> str:
    """The hub's address (HF_ENDPOINT, for a mirror), as huggingface_hub uses it."""
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def offline_by_setting(env: Mapping[str, str] | None = None) -> bool:
    """HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1): the user said there is no hub."""
    env = os.environ if env is None else env
    value = env.get(OFFLINE_ENV) or env.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in ("1", "true", "yes", "on")


def _cached(repo_id: str, filename: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(repo_id, filename)
    return path if isinstance(path, str) else None


def missing_files(repo_id: str, text: bool = True) -> tuple[str, ...]:
    """The files `from_pretrained` will need that the local cache lacks (empty: loads with no network).
    Weights count as present when `model.safetensors` is, or its index and every shard it names. `text=False`: a
    checkpoint without a tokenizer (a vision backbone)."""
    needed = NEEDED_FILES if text else tuple(n for n in NEEDED_FILES if n != "tokenizer_config.json")
    missing = [name for name in needed if _cached(repo_id, name) is None]
    if _cached(repo_id, WEIGHTS) is None:
        index = _cached(repo_id, WEIGHTS_INDEX)
        try:
            shards = sorted(set(json.loads(open(index).read())["weight_map"].values())) if index else []
        except (OSError, ValueError, KeyError, AttributeError):
            shards = []
        absent = [s for s in shards if _cached(repo_id, s) is None]
        if not shards or absent:
            missing.append(WEIGHTS if not shards else absent[0])
    if text and not any(all(_cached(repo_id, name) for name in form) for form in VOCABULARIES):
        missing.append("the tokenizer's vocabulary (tokenizer.json or vocab files)")
    return tuple(missing)


def probe(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """One small request; any failure or a slow answer counts as unreachable. Honours HTTPS_PROXY."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except Exception:  # noqa: BLE001 - DNS failure, refused, timeout, proxy: all mean "not now"
        return False


class HubAccess:
    """The process's one answer to "does the hub answer?": asked in the background, kept, refreshed while it
    is no. `reachable(wait)` never waits longer than `wait` (and the probe never runs longer than its timeout)."""

    def __init__(self, url: str, timeout: float = PROBE_TIMEOUT_S, retry_s: float = RETRY_S,
                 check: Callable[[str, float], bool] = probe, on_answer: Callable[[bool], None] = lambda _: None):
        """on_answer(False) runs before the first probe, then on_answer(answer) after each one."""
        self.url, self.timeout, self.retry_s, self._check = url, timeout, retry_s, check
        self._on_answer = on_answer
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._answer: bool | None = None
        self._asked_at: float | None = None  # time.monotonic() of the last probe's start
        self.probes = 0  # how many probes ran: a test checks the hub is asked once, not per load

    def start(self) -> None:
        """Ask in the background unless an answer is on its way or fresh (a "no" goes stale after retry_s)."""
        with self._lock:
            if offline_by_setting():
                self._answer, self._asked_at = False, time.monotonic()
                self._done.set()
                return
            asking = self._asked_at is not None and not self._done.is_set()
            fresh = self._answer is True or (
                self._asked_at is not None and time.monotonic() - self._asked_at < self.retry_s)
            if asking or (self._done.is_set() and fresh):
                return
            self._asked_at = time.monotonic()
            if self._answer is None:  # the first time: no network for the hub library until the hub answers
                self._done.clear()
                self._on_answer(False)
            self.probes += 1
        threading.Thread(target=self._run, daemon=True, name="hub-probe").start()

    def _run(self) -> None:
        answer = self._check(self.url, self.timeout)
        with self._lock:
            self._on_answer(answer)
            self._answer = answer
            self._done.set()

    def reachable(self, wait: float | None = None) -> bool:
        """True when the hub answered. Waits at most `wait` s (default: the probe's timeout) for a first answer;
        a later "no" is refreshed in the background, and the last answer is returned at once."""
        self.start()
        self._done.wait(self.timeout + 1 if wait is None else wait)
        return bool(self._answer)

    def known(self) -> bool | None:
        """The answer so far, without asking or waiting (None: not asked yet or still asking)."""
        return self._answer if self._done.is_set() else None


def library_online(answer: bool) -> None:
    """huggingface_hub's own offline switch (read at call time by it and by transformers), set from the probe's
    answer; left alone when the user set HF_HUB_OFFLINE. Offline, it refuses every request at once."""
    from huggingface_hub import constants

    if not offline_by_setting():
        constants.HF_HUB_OFFLINE = not answer


def bound_hub_requests() -> None:
    """Give huggingface_hub's shared HTTP client a timeout (its default has none: a silent network hangs a
    download or a `model_info` call forever)."""
    from huggingface_hub.utils import _http

    def client():
        session = _http.default_client_factory()
        session.timeout = _http.httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        return session

    _http.set_client_factory(client)
