"""The local stand-in of the hub repos (tests/hub_standin.py) is faithful: huggingface_hub and transformers find
every repo offline exactly as they find real downloads, with the real architectures, image sizes, token counts,
label count and tokenizer ids, and without one network call. A partial copy makes the app's loaders fail the way a
half-downloaded cache does."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import sys
import types
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import scan_cache_dir, try_to_load_from_cache
from PIL import Image
from transformers import AutoProcessor, CLIPTokenizer, CLIPTokenizerFast

from core.models import registry
from tests import hub_standin as hs
from tests.hub_standin import hub_standin, hub_standin_cache  # noqa: F401  (fixtures)

QUESTION = "What animal is in the photo?"
# Facts of the real checkpoints (DESIGN.md, their model cards): parameters in millions, rounded.
MILLIONS = {"clip": 151, "clip16": 150, "vqa": 361, "caption": 224, "fusion": 118, "vision": 22, "listen": 73,
            "listen_fast": 38}
PROCESSORS = {"clip": "CLIPProcessor", "clip16": "CLIPProcessor", "vqa": "BlipProcessor",
              "caption": "BlipProcessor", "fusion": "ViltProcessor", "vision": "BitImageProcessorPil",
              "listen": "WhisperProcessor", "listen_fast": "WhisperProcessor"}


@pytest.fixture
def no_network(monkeypatch):
    """Any name lookup or connection fails and is recorded; the test asserts the record stays empty."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError("the stand-in tests never use the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: refuse(address))
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def load(role: str):
    model, info = registry.MODEL_CLASSES[role].from_pretrained(
        registry.HUB_IDS[role], attn_implementation="eager", use_safetensors=True, local_files_only=True,
        output_loading_info=True)
    processor = AutoProcessor.from_pretrained(registry.HUB_IDS[role], local_files_only=True)
    return model.eval(), info, processor


def test_the_layout_is_the_one_huggingface_hub_writes_and_reads(hub_standin):
    info = scan_cache_dir(hub_standin)  # huggingface_hub's own reader of the cache
    assert not info.warnings, info.warnings
    assert sorted(r.repo_id for r in info.repos) == sorted(registry.HUB_IDS.values())
    for role, repo_id in registry.HUB_IDS.items():
        repo = next(r for r in info.repos if r.repo_id == repo_id)
        (revision,) = repo.revisions
        assert revision.refs == frozenset({"main"}) and len(revision.commit_hash) == 40
        assert sorted(f.file_name for f in revision.files) == sorted(hs.repo_files(role))
        for f in revision.files:
            link = f.file_path
            assert link.is_symlink() and os.readlink(link) == f"../../blobs/{f.blob_path.name}"
            if f.file_name == "model.safetensors":  # Git LFS: the blob is named by its sha256
                assert len(f.blob_path.name) == 64
            else:  # kept in git: named by the git blob id
                assert f.blob_path.name == hs.git_blob_sha1(f.blob_path.read_bytes())
            assert try_to_load_from_cache(repo_id, f.file_name, cache_dir=hub_standin) == str(link)
        assert try_to_load_from_cache(repo_id, "pytorch_model.bin", cache_dir=hub_standin) is None
    vilt = hs.snapshot_dir(hub_standin, registry.HUB_IDS["fusion"]) / "model.safetensors"
    assert vilt.resolve().name == hashlib.sha256(vilt.read_bytes()).hexdigest()


@pytest.mark.parametrize("role", hs.ALL_ROLES)
def test_every_role_loads_offline_with_the_real_architecture(role, hub_standin_cache, no_network):
    model, info, processor = load(role)
    assert {k: v for k, v in info.items() if v} == {}  # no missing, unexpected or mismatched weights
    assert type(model) is registry.MODEL_CLASSES[role]
    assert round(sum(p.numel() for p in model.parameters()) / 1e6) == MILLIONS[role]
    assert next(model.parameters()).dtype == torch.float32
    assert type(processor).__name__ == PROCESSORS[role]
    photo = Image.new("RGB", (640, 480), (90, 140, 60))  # 4:3
    with torch.inference_mode():
        if role in ("clip", "clip16"):
            batch = processor(images=photo, text=["a photo of a cat"], return_tensors="pt")
            assert tuple(batch.pixel_values.shape) == (1, 3, 224, 224)
            out = model.vision_model(pixel_values=batch.pixel_values, output_attentions=True)
            tokens = {"clip": 7 * 7 + 1, "clip16": 14 * 14 + 1}[role]
            assert out.last_hidden_state.shape == (1, tokens, 768)
            assert len(out.attentions) == 12 and out.attentions[0].shape == (1, 12, tokens, tokens)
            text = model.get_text_features(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
            assert text.pooler_output.shape == (1, 512)
        elif role in ("vqa", "caption"):
            batch = processor(images=photo, text=QUESTION, return_tensors="pt")
            assert tuple(batch.pixel_values.shape) == (1, 3, 384, 384)
            vision = model.vision_model(pixel_values=batch.pixel_values)
            assert vision.last_hidden_state.shape == (1, 24 * 24 + 1, 768)  # 577 image tokens
            generated = model.generate(**batch, max_new_tokens=3)
            assert generated.ndim == 2 and isinstance(processor.decode(generated[0], skip_special_tokens=True), str)
        elif role == "vision":  # the real DINOv2 ViT-S/14: 224 px centre crop, 16 x 16 patches of 14 px + CLS
            out = model(**processor(images=photo, return_tensors="pt"), output_attentions=True)
            assert out.last_hidden_state.shape == (1, 16 * 16 + 1, 384)
            assert len(out.attentions) == 12 and out.attentions[0].shape == (1, 6, 257, 257)
        elif role in ("listen", "listen_fast"):  # the real Whisper: 30 s window, 80 mels, 1500 encoder frames
            features = processor(np.zeros(16000, np.float32), sampling_rate=16000, return_tensors="pt").input_features
            assert tuple(features.shape) == (1, 80, 3000)
            assert model.get_encoder()(features).last_hidden_state.shape[1] == 1500
        else:
            batch = processor(images=photo, text=QUESTION, return_tensors="pt")
            # shortest edge 384, the other side scaled (640 x 480 -> 512 x 384) and a multiple of 32
            assert tuple(batch.pixel_values.shape) == (1, 3, 384, 512)
            assert tuple(batch.pixel_mask.shape) == (1, 384, 512) and bool(batch.pixel_mask.all())
            out = model(**batch, output_attentions=True)
            assert out.logits.shape == (1, hs.VQA_ANSWERS)
            joint = batch.input_ids.shape[1] + (384 // 32) * (512 // 32) + 1  # text + 12 x 16 patches + CLS
            assert out.attentions[0].shape == (1, 12, joint, joint)
            answer = model.config.id2label[int(out.logits.argmax())]
            assert answer == hs.vqa_answer(int(out.logits.argmax()))
    assert no_network == []


def test_the_configs_carry_the_real_checkpoints_facts(hub_standin_cache):
    configs = {role: registry.MODEL_CLASSES[role].config_class.from_pretrained(hub_id, local_files_only=True)
               for role, hub_id in registry.HUB_IDS.items()}
    for role, patch in (("clip", 32), ("clip16", 16)):
        vision, text = configs[role].vision_config, configs[role].text_config
        assert (vision.image_size, vision.patch_size, vision.hidden_size, vision.num_hidden_layers) == (224, patch,
                                                                                                       768, 12)
        assert (text.vocab_size, text.max_position_embeddings, text.num_hidden_layers) == (49408, 77, 12)
    for role in ("vqa", "caption"):
        vision, text = configs[role].vision_config, configs[role].text_config
        assert (vision.image_size, vision.patch_size) == (384, 16)
        assert (text.vocab_size, text.num_attention_heads, text.bos_token_id, text.sep_token_id) == (30524, 12,
                                                                                                      30522, 102)
    vilt = configs["fusion"]
    assert (vilt.image_size, vilt.patch_size, vilt.max_position_embeddings, vilt.num_labels) == (384, 32, 40, 3129)
    assert sorted(vilt.label2id.values()) == list(range(3129)) and len(set(vilt.id2label.values())) == 3129


def openai_tokenizer(monkeypatch):
    """OpenAI's own CLIP tokenizer (clip/simple_tokenizer.py in clip-anytorch), imported by path so that the
    package's torchvision import is skipped; ftfy (not installed) is replaced by the identity, which is exact for
    the ASCII text used here."""
    path = Path(metadata.distribution("clip-anytorch").locate_file("clip/simple_tokenizer.py"))
    monkeypatch.setitem(sys.modules, "ftfy", types.SimpleNamespace(fix_text=lambda text: text))
    spec = importlib.util.spec_from_file_location("openai_simple_tokenizer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SimpleTokenizer()


def test_clip_tokenizer_is_openais(hub_standin_cache, monkeypatch):
    snapshot = hs.snapshot_dir(hub_standin_cache, registry.HUB_IDS["clip"])
    vocab = json.loads((snapshot / "vocab.json").read_text(encoding="utf-8"))
    merges = (snapshot / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 49408 and sorted(vocab.values()) == list(range(49408))
    assert merges[0].startswith("#version") and len(merges) - 1 == 48894
    reference = openai_tokenizer(monkeypatch)
    assert vocab == reference.encoder  # the same 49,408 tokens with the same ids
    texts = ["a photo of a cat", QUESTION, "A RED circle left of 2 blue squares!!", "it's CLIP's zero-shot",
             "don't   stop-believing; x=3.14 #tag @user", "the quick brown fox jumps over the lazy dog"]
    for role in ("clip", "clip16"):
        for cls in (CLIPTokenizer, CLIPTokenizerFast):  # one class in transformers 5; both names still work
            tokenizer = cls.from_pretrained(registry.HUB_IDS[role], local_files_only=True)
            assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
            assert tokenizer.model_max_length == 77
            for text in texts:
                ids = tokenizer(text).input_ids
                assert ids == [49406, *reference.encode(text), 49407], text
                assert tokenizer.decode(ids, skip_special_tokens=True).strip() == reference.decode(ids[1:-1]).strip()


def test_bert_tokenizers_give_the_real_ids(hub_standin_cache):
    for role in ("vqa", "caption", "fusion"):
        tokenizer = AutoProcessor.from_pretrained(registry.HUB_IDS[role], local_files_only=True).tokenizer
        assert tokenizer("hello world").input_ids == [101, 7592, 2088, 102]
        ids = tokenizer(QUESTION).input_ids
        assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "what", "animal", "is", "in", "the", "photo", "?",
                                                        "[SEP]"]
        assert tokenizer.decode(ids) == "[CLS] what animal is in the photo? [SEP]"
        assert tokenizer.decode(ids, skip_special_tokens=True) == "what animal is in the photo?"
    blip = AutoProcessor.from_pretrained(registry.HUB_IDS["vqa"], local_files_only=True).tokenizer
    assert (blip.bos_token, blip.bos_token_id, blip.convert_tokens_to_ids("[ENC]"), len(blip)) == ("[DEC]", 30522,
                                                                                                   30523, 30524)
    vilt = AutoProcessor.from_pretrained(registry.HUB_IDS["fusion"], local_files_only=True)
    assert len(vilt.tokenizer) == 30522 and vilt.tokenizer.model_max_length == 40
    long_question = " ".join(["what"] * 60) + "?"
    batch = vilt(images=Image.new("RGB", (384, 384)), text=long_question, truncation=True, return_tensors="pt")
    assert batch.input_ids.shape == (1, 40)  # ViLT has 40 text positions


def test_the_registry_finds_and_loads_the_hub_pack(hub_standin_cache, no_network):
    assert all(registry.hub_cached(role) for role in registry.HUB_IDS)
    loaded = registry.load("hub", "fusion")
    assert loaded.spec.source == registry.HUB_IDS["fusion"] and not loaded.model.training
    assert loaded.model.config.num_labels == 3129 and type(loaded.processor).__name__ == "ViltProcessor"
    assert no_network == []


def test_a_partial_copy_is_missing_exactly_what_was_dropped(hub_standin, tmp_path, monkeypatch):
    vilt, blip = registry.HUB_IDS["fusion"], registry.HUB_IDS["vqa"]
    partial = hs.partial_cache(tmp_path, drop={vilt: ["model.safetensors"]}, roles=("clip", "vqa", "fusion"))
    assert os.stat(hs.snapshot_dir(partial, blip) / "model.safetensors").st_nlink >= 2  # a hard link, not a copy
    hs.use_cache(monkeypatch, partial)
    assert [registry.hub_cached(role) for role in ("clip", "vqa", "caption", "clip16")] == [True, True, False, False]
    assert isinstance(try_to_load_from_cache(vilt, "config.json"), str)
    assert try_to_load_from_cache(vilt, "model.safetensors") is None
    with pytest.raises(OSError):
        registry.MODEL_CLASSES["fusion"].from_pretrained(vilt, use_safetensors=True, local_files_only=True)
    hs.remove_file(partial, blip, "vocab.txt")
    assert try_to_load_from_cache(blip, "vocab.txt") is None
    assert isinstance(try_to_load_from_cache(blip, "model.safetensors"), str)
    # the shared build is untouched and refuses edits
    assert (hs.snapshot_dir(hub_standin, vilt) / "model.safetensors").is_file()
    assert (hs.snapshot_dir(hub_standin, blip) / "vocab.txt").is_file()
    with pytest.raises(ValueError):
        hs.remove_file(hub_standin, blip, "vocab.txt")


def test_a_second_build_reuses_the_first(hub_standin):
    weights = hs.snapshot_dir(hub_standin, registry.HUB_IDS["clip"]) / "model.safetensors"
    before, built = weights.resolve().stat(), list(hs.BUILD_LOG)
    hs._BUILT.clear()  # forget this process's memo: reuse must come from the folder itself
    assert hs.build_cache() == hub_standin
    after = weights.resolve().stat()
    assert hs.BUILD_LOG == built and (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert Path(hs.default_base()).resolve() not in Path(__file__).resolve().parents  # never inside the repo
    assert not str(hub_standin.resolve()).startswith(str(Path(__file__).resolve().parents[2]))
