"""The hub is asked once per process, in the background, never on a page's time; what is on disk needs no asking."""
from __future__ import annotations

import threading
import time

from huggingface_hub import constants as hf_constants

from core.models import hub_access, registry
from tests.hub.test_hub_down import fake_partial_cache


def slow_answer(answer: bool, gate: threading.Event, calls: list):
    def check(url: str, timeout: float) -> bool:
        calls.append(url)
        gate.wait(10)
        return answer
    return check


def test_the_hub_is_asked_once_however_many_loads_ask(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    gate, calls = threading.Event(), []
    access = hub_access.HubAccess("http://hub.invalid/api", timeout=0.2, check=slow_answer(True, gate, calls))
    assert access.reachable(wait=0) is False and access.known() is None  # still asking: no answer, no waiting
    gate.set()
    assert access.reachable(wait=5) is True
    for _ in range(20):
        assert access.reachable() is True
    assert access.probes == 1 and len(calls) == 1


def test_a_silent_hub_costs_at_most_the_probe_timeout_and_is_asked_again_only_in_the_background(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    gate, calls = threading.Event(), []
    access = hub_access.HubAccess("http://hub.invalid/api", timeout=0.3, retry_s=0.0,
                                  check=slow_answer(False, gate, calls))
    start = time.perf_counter()
    assert access.reachable() is False  # waits for the first answer at most timeout + 1 s
    assert time.perf_counter() - start < 0.3 + 1.5
    gate.set()
    access._done.wait(5)
    assert access.reachable(wait=5) is False
    # a stale "no" is asked again in the background: the caller gets the last answer at once
    gate.clear()
    start = time.perf_counter()
    assert access.reachable(wait=0) is False
    assert time.perf_counter() - start < 0.2
    assert access.probes >= 2
    gate.set()


def test_hf_hub_offline_means_no_probe_at_all(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls = []
    access = hub_access.HubAccess("http://hub.invalid/api", check=lambda url, timeout: calls.append(url) or True)
    assert access.reachable() is False and calls == [] and access.probes == 0


def test_cached_means_every_file_from_pretrained_needs(tmp_path, monkeypatch):
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    repo = registry.HUB_IDS["vqa"]
    fake_partial_cache(tmp_path, repo, {"config.json": "{}"})
    missing = hub_access.missing_files(repo)
    assert "model.safetensors" in missing and "preprocessor_config.json" in missing
    assert not registry.hub_cached("vqa")
    snapshot = next((tmp_path / ("models--" + repo.replace("/", "--")) / "snapshots").iterdir())
    for name in ("preprocessor_config.json", "tokenizer_config.json", "vocab.txt"):
        (snapshot / name).write_text("{}")
    assert hub_access.missing_files(repo) == ("model.safetensors",)
    (snapshot / "model.safetensors.index.json").write_text(
        '{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}')
    (snapshot / "model-00001-of-00002.safetensors").write_text("")
    assert hub_access.missing_files(repo) == ("model-00002-of-00002.safetensors",)
    (snapshot / "model-00002-of-00002.safetensors").write_text("")
    assert hub_access.missing_files(repo) == () and registry.hub_cached("vqa")


def test_a_checkpoint_complete_on_disk_loads_from_disk_whatever_the_hub_says(tmp_path, monkeypatch):
    """local_files_only for what is on disk, even with a hub that answers; a download only when it answers."""
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    files = {name: "{}" for name in ("config.json", "preprocessor_config.json", "tokenizer_config.json",
                                     "tokenizer.json", "model.safetensors")}
    fake_partial_cache(tmp_path, registry.HUB_IDS["clip"], files)
    for answer in (True, False):
        access = hub_access.HubAccess("http://hub.invalid/api", check=lambda url, timeout: answer,
                                      on_answer=hub_access.library_online)
        monkeypatch.setattr(registry, "HUB_ACCESS", access)
        assert registry.hub_options("hub", "clip") == {"local_files_only": True}
        assert registry.hub_unavailable("clip") is None
        assert registry.hub_options("bundled", "clip") == {}
        assert registry.hub_options("hub", "vqa") == {"local_files_only": not answer}  # the probe decides
        assert access.probes == 1
        why = registry.hub_unavailable("vqa")
        assert (why is None) if answer else ("not been downloaded" in why and "does not answer" in why)
        assert hf_constants.HF_HUB_OFFLINE is (not answer)  # the hub library follows the probe


def test_the_hub_library_stays_offline_until_the_hub_answers(monkeypatch):
    """huggingface_hub makes requests of its own even with local_files_only (it looks up "agent harnesses" for
    its user-agent header): it is switched offline before the first probe and online only by a yes."""
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    gate, calls = threading.Event(), []
    access = hub_access.HubAccess("http://hub.invalid/api", check=slow_answer(True, gate, calls),
                                  on_answer=hub_access.library_online)
    access.start()
    assert hf_constants.HF_HUB_OFFLINE is True and access.known() is None
    gate.set()
    assert access.reachable(wait=5) is True and hf_constants.HF_HUB_OFFLINE is False
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # with the user's own setting, the probe touches nothing
    hub_access.library_online(False)
    assert hf_constants.HF_HUB_OFFLINE is False


def test_every_hub_request_has_a_timeout():
    from huggingface_hub.utils import _http

    assert registry.HUB_ACCESS  # importing the registry bounded the client
    timeout = _http.get_session().timeout
    assert timeout.connect == hub_access.CONNECT_TIMEOUT_S and timeout.read == hub_access.READ_TIMEOUT_S


def test_every_image_processor_is_the_pil_one_whatever_is_installed():
    for role in registry.ROLES:
        assert type(registry.load("bundled", role).processor.image_processor).__name__.endswith("Pil")
