"""Many students at once: 8 sessions run pages at the same moment in one process (one server's worth of
sessions), all get the right answers, every model is loaded once and shared, and memory stays bounded."""
from __future__ import annotations

import gc
import threading
import weakref
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.runtime import Runtime
from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest, app_test

from components.service import models
from core.concepts import cross_attention, early_fusion
from core.inputs import images
from core.models import registry
from tests.conftest import ROOT
from tests.models import bundled

SESSIONS = 8
RSS_GROWTH_LIMIT_MB = 600  # the bundled pack is ~10 MB of weights: growth is sessions, threads, caches


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


HARNESS_RACES: list[str] = []  # AppTest (not the app) keeps some process globals; a session that trips on one
# (a widget id KeyError while another AppTest resets its page registry) is run again, and the count is printed


def session(page: str, question: str, out: dict, index: int) -> None:
    run_session(page, question, out, index)
    if any("KeyError('$$ID-" in e for e in out[index][0]):
        HARNESS_RACES.append(out[index][0][0][:80])
        run_session(page, question, out, index)


def run_session(page: str, question: str, out: dict, index: int) -> None:
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
        at.switch_page(page).run()
        at.text_area(key="text").set_value(question).run()
        out[index] = ([e.value + "\n".join(e.stack_trace) for e in at.exception], [s.value for s in at.subheader], at.title[0].value)
    except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
        out[index] = ([repr(error)], [], "")


@pytest.fixture
def one_runtime(monkeypatch):
    """AppTest installs a mock Runtime singleton around each run and removes it afterwards, which is right for one
    test at a time. A server has ONE runtime for all its sessions: install one, and let AppTest's per-run swaps
    land on a stand-in, so 8 AppTests in 8 threads share it the way 8 browser tabs share a server."""
    runtime = MagicMock(spec=Runtime)
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.dataframe_source_mgr = DataframeSourceManager()
    runtime.cache_storage_manager = MemoryCacheStorageManager()
    runtime.bidi_component_registry = BidiComponentManager()
    runtime.bidi_component_registry.discover_and_register_components(start_file_watching=False)
    monkeypatch.setattr(app_test, "Runtime", SimpleNamespace(_instance=None))
    monkeypatch.setattr(Runtime, "_instance", runtime)
    yield runtime


def test_eight_sessions_at_once_share_one_copy_of_each_model(monkeypatch, one_runtime):
    scene = images.sample_scene("shapes: two objects")
    questions = [f"what color is the {obj.shape}?" for obj in scene.objects]
    pages = ["pages/cross_attention.py", "pages/early_fusion.py"]
    plan = [(pages[i % 2], questions[(i // 2) % 2]) for i in range(SESSIONS)]
    image = images.load_image(images.sample_png("shapes: two objects"))
    vqa, fusion = bundled("vqa"), bundled("fusion")
    expected = {q: {"pages/cross_attention.py": cross_attention.ask(vqa.model, vqa.processor, image, q).answer,
                    "pages/early_fusion.py": early_fusion.fuse(fusion.model, fusion.processor, image,
                                                               q).top_answers[0][0]} for q in questions}

    loads: Counter = Counter()
    copies: dict[tuple[str, str], list[weakref.ref]] = {}
    real_load = registry.load

    def counting_load(pack: str, role: str):
        loads[(pack, role)] += 1
        loaded = real_load(pack, role)
        copies.setdefault((pack, role), []).append(weakref.ref(loaded.model))
        return loaded

    monkeypatch.setattr(registry, "load", counting_load)
    budget = getattr(models, "loaded_models", None)  # components/service/models.py's memory-budgeted model store
    if budget is not None:  # let it learn the models' sizes first, so it plans loads instead of evicting
        for role in ("vqa", "fusion"):
            models.model("bundled", role)
        budget().clear()
    elif hasattr(models._load, "clear"):
        models._load.clear()
    loads.clear()  # cold start: all sessions race for the first load
    copies.clear()

    before = rss_mb()
    results: dict = {}
    threads = [threading.Thread(target=session, args=(page, q, results, i)) for i, (page, q) in enumerate(plan)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    growth = rss_mb() - before

    assert len(results) == SESSIONS, "a session did not finish"
    for i, (page, question) in enumerate(plan):
        exceptions, subheaders, title = results[i]
        assert not exceptions, (page, exceptions)
        assert title and subheaders[0] == f"Answer: {expected[question][page]}", (page, question, subheaders)
    gc.collect()
    alive = {key: sum(ref() is not None for ref in refs) for key, refs in copies.items()}
    assert all(n <= 1 for n in alive.values()), alive  # never two copies of one model in memory
    assert loads and all(n == 1 for n in loads.values()), loads  # 4 racing sessions per model: one load
    assert set(loads) <= {("bundled", "vqa"), ("bundled", "fusion")}, loads  # and only what the pages need
    print(f"\n{SESSIONS} concurrent sessions: models loaded {dict(loads)}; RSS grew {growth:.0f} MB; "
          f"harness races retried: {len(HARNESS_RACES)}")
    assert growth < RSS_GROWTH_LIMIT_MB, f"RSS grew {growth:.0f} MB"
