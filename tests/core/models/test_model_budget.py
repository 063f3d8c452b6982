"""The model memory budget: least recently used out first, never over budget once sizes are known, a second
request is a cache hit, and a model is evicted before the next one loads."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.models.model_budget import ModelBudget, weight_bytes

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

    from components.service import clip_source, models
    from tests.conftest import ROOT

    budget = models.loaded_models()
    saved = budget.budget_bytes
    budget.budget_bytes = 1  # every load evicts every other model first
    budget.clear()  # models earlier tests left in it would be hits, and a hit evicts nothing
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


def _arrays(value, seen=None):
    """Every numpy array and torch tensor reachable from a result (dataclass fields, lists, tuples, dicts)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, torch.Tensor):
        yield value.detach().numpy()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays(item, seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays(item, seen)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for item in vars(value).values():
            yield from _arrays(item, seen)


def test_no_cached_result_is_a_view_of_a_models_weights():
    """Results are cached for the life of the process. One that is a view of a weight keeps that weight's storage
    alive after the budget evicted the model, and with from_pretrained's memory-mapped safetensors the storage is
    the whole checkpoint file: the patching page's PatchView once held a view of CLIP's position embeddings, and
    the evicted B/32 and B/16 checkpoints stayed mapped (+670 MB RSS: 2.67 GB with BLIP VQA, budget 1.6 GB)."""
    from core.attention import qkv_math
    from core.concepts import captioning, cross_attention, early_fusion, patching
    from core.inputs import images
    from tests.models import bundled

    image = images.load_image(images.sample_png(next(iter(images.samples()))))
    question = "what color is the circle?"
    results = {
        "clip": [patching.patch_view(bundled("clip").model, bundled("clip").processor, image)],
        "vqa": [cross_attention.ask(bundled("vqa").model, bundled("vqa").processor, image, question),
                qkv_math.encode(bundled("vqa").model, bundled("vqa").processor, image, question)],
        "caption": [captioning.caption(bundled("caption").model, bundled("caption").processor, image)],
        "fusion": [early_fusion.fuse(bundled("fusion").model, bundled("fusion").processor, image, question)],
    }
    for role, role_results in results.items():
        model = bundled(role).model
        weights = [t.detach().numpy() for t in list(model.parameters()) + list(model.buffers())]
        for result in role_results:
            for array in _arrays(result):
                shared = [w.shape for w in weights if np.may_share_memory(array, w)]
                assert not shared, f"{role}: a {type(result).__name__} array {array.shape} is a view of a weight"


def test_an_evicted_checkpoint_is_unmapped_once_its_results_are_cached(tmp_path):
    """The same failure seen from the operating system: a model loaded with from_pretrained (safetensors, memory-
    mapped), a PatchView kept (as st.cache_resource keeps it), the model dropped: its file must be unmapped."""
    import gc
    import shutil
    from pathlib import Path

    from core.concepts import patching
    from core.inputs import images
    from core.models import registry

    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs Linux's /proc")
    folder = tmp_path / "clip"
    shutil.copytree(registry.BUNDLED_DIR / "clip", folder)
    loaded = registry.MODEL_CLASSES["clip"].from_pretrained(folder, attn_implementation="eager",
                                                             **registry.LOAD_OPTIONS).eval()
    processor = registry.load("bundled", "clip").processor
    image = images.load_image(images.sample_png(next(iter(images.samples()))))
    kept = patching.patch_view(loaded, processor, image)
    del loaded
    gc.collect()
    assert str(folder) not in maps.read_text(), "the dropped model's checkpoint is still memory-mapped"
    assert kept.position_embeddings.shape[0] == kept.n_patches
