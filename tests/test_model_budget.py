"""The model memory budget: least recently used out first, never over budget once sizes are known, a second
request is a cache hit, and a model is evicted before the next one loads."""
from types import SimpleNamespace

import torch

from core.model_budget import ModelBudget, weight_bytes

MB = 2**20
SIZES = {"clip": 600 * MB, "vqa": 1400 * MB, "caption": 900 * MB, "fusion": 470 * MB}


def budget(mb: int) -> ModelBudget:
    return ModelBudget(mb * MB, size=lambda value: SIZES[value.role])


def loader(role: str, log: list, cache: ModelBudget):
    def load():
        log.append((role, sorted(cache.keys())))  # what was still loaded when this one started loading
        return SimpleNamespace(role=role)
    return load


def test_a_second_request_is_a_cache_hit():
    cache, log = budget(1600), []
    first = cache.get("clip", loader("clip", log, cache))
    assert cache.get("clip", loader("clip", log, cache)) is first
    assert cache.loads == 1 and len(log) == 1


def test_once_sizes_are_known_the_loaded_weights_stay_within_the_budget():
    cache, log = budget(1600), []
    for role in ["clip", "vqa", "clip", "fusion", "caption", "vqa", "fusion", "clip"] * 2:
        cache.get(role, loader(role, log, cache))
        assert cache.loaded_bytes() <= 1600 * MB or cache.keys() == [role]
    assert cache.evictions > 0


def test_the_least_recently_used_model_goes_first_and_before_the_next_load():
    cache, log = budget(1600), []
    for role in ["clip", "fusion", "vqa", "caption", "clip", "fusion"]:  # learn every size once
        cache.get(role, loader(role, log, cache))
    assert cache.keys() == ["clip", "fusion"]
    cache.get("clip", loader("clip", log, cache))  # clip is now the most recent
    cache.get("caption", loader("caption", log, cache))  # 900 MB: fusion (least recent) must go, clip may stay
    assert cache.keys() == ["clip", "caption"]
    assert log[-1] == ("caption", ["clip"])  # fusion was gone before caption started loading


def test_a_model_never_seen_is_loaded_alone():
    cache, log = budget(1600), []
    cache.get("clip", loader("clip", log, cache))
    cache.get("fusion", loader("fusion", log, cache))
    assert log[-1] == ("fusion", [])  # its size was unknown: everything else made room first


def test_weight_bytes_counts_parameters_and_buffers():
    module = torch.nn.BatchNorm1d(10)  # 20 parameters + 21 buffer values (running mean, var, num_batches_tracked)
    assert weight_bytes(module) == 20 * 4 + 20 * 4 + 8


def test_an_evicted_model_is_really_freed_after_the_page_that_used_it():
    """The budget only bounds memory if nothing else holds an evicted model. The CLIP space page once kept its CLIP
    in a page variable that outlived the run: 600 MB of CLIP B/32 stayed alive next to the next page's model."""
    import gc
    import weakref

    from streamlit.testing.v1 import AppTest

    from components import clip_source, models
    from tests.conftest import ROOT

    budget = models.loaded_models()
    saved = budget.budget_bytes
    budget.budget_bytes = 1  # every load evicts every other model first
    try:
        for cached in (clip_source.embed, clip_source.classify, clip_source.patch_probe_score, models.fuse):
            cached.clear()  # earlier tests may have cached these pages' results: make both models really run
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.run()
        at.switch_page("pages/clip_space.py")
        at.run()
        assert not at.exception
        clip = weakref.ref(budget._entries[("bundled", "clip")].model)
        at.switch_page("pages/early_fusion.py")
        at.run()
        assert not at.exception and [role for _, role in budget.keys()] == ["fusion"]
        gc.collect()
        assert clip() is None, "the evicted CLIP is still referenced"
        at.switch_page("pages/clip_space.py")  # every result cached: the page needs no model, so none is loaded
        at.run()
        assert not at.exception and [role for _, role in budget.keys()] == ["fusion"]
    finally:
        budget.budget_bytes = saved
