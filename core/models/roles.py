"""The role table: every model the app can load, one row each.

A *role* is what a page needs (`clip`, `vqa`, `caption`, `fusion`, and the optional finer `clip16`). Its row says
where the real checkpoint lives (hub id), which transformers class loads it, which bundled tiny model stands in
for it offline (the fallback), how many tokens its text side reads, which family adapter knows its internals
(core/models/clip.py, blip.py, vilt.py), and the full-size config with which benchmarks and tests build it with
random weights. core/models/registry.py (loading, the allowlist, the network rules) and core/inputs/text_limits.py read this
table; nothing else names a checkpoint.

A new checkpoint of a known family is one row, for example BLIP large for the VQA role:
    Role("vqa", "Salesforce/blip-vqa-capfilt-large", BlipForQuestionAnswering, "blip", bundled="vqa",
         max_tokens=512, full_size=lambda: BlipConfig(vision_config={"hidden_size": 1024, ...}))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from transformers import (
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    CLIPConfig,
    CLIPModel,
    CLIPVisionConfig,
    PretrainedConfig,
    PreTrainedModel,
    ViltConfig,
    ViltForQuestionAnswering,
)

VQA_ANSWERS = 3129  # dandelin/vilt-b32-finetuned-vqa's answer vocabulary: the classifier's real size


@dataclass(frozen=True)
class Role:
    name: str  # what pages ask for
    hub_id: str  # the real checkpoint on the Hugging Face hub
    model_class: type[PreTrainedModel]  # named here, never an Auto* class: a checkpoint's own code never runs
    family: str  # the adapter that owns the internals: a module of core/models (clip, blip, vilt)
    bundled: str  # the folder under models/bundled/ that stands in offline (the fallback); may be shared
    max_tokens: int  # the checkpoint config's max_position_embeddings: text is cut to this when no tokenizer says less
    full_size: Callable[[], PretrainedConfig]  # the hub checkpoint's shapes, for random-weight builds (no download)
    required: bool = True  # False: the automatic hub choice never waits for it (a finer variant a page may ask for)


ROLE_TABLE: tuple[Role, ...] = (
    Role("clip", "openai/clip-vit-base-patch32", CLIPModel, "clip", bundled="clip", max_tokens=77,
         full_size=CLIPConfig),
    Role("vqa", "Salesforce/blip-vqa-base", BlipForQuestionAnswering, "blip", bundled="vqa", max_tokens=512,
         full_size=BlipConfig),
    Role("caption", "Salesforce/blip-image-captioning-base", BlipForConditionalGeneration, "blip",
         bundled="caption", max_tokens=512, full_size=BlipConfig),
    Role("fusion", "dandelin/vilt-b32-finetuned-vqa", ViltForQuestionAnswering, "vilt", bundled="fusion",
         max_tokens=40, full_size=lambda: ViltConfig(num_labels=VQA_ANSWERS)),
    # CLIP ViT-B/16: a finer 14x14 grid for the patching page. The bundled pack has one vision tower, so offline
    # it is the same tiny CLIP as "clip".
    Role("clip16", "openai/clip-vit-base-patch16", CLIPModel, "clip", bundled="clip", max_tokens=77,
         full_size=lambda: CLIPConfig(vision_config=CLIPVisionConfig(patch_size=16).to_dict()), required=False),
)
BY_NAME: dict[str, Role] = {r.name: r for r in ROLE_TABLE}


def role(name: str) -> Role:
    """The row of one role; an unknown name fails with the known ones."""
    if name not in BY_NAME:
        raise ValueError(f"unknown role {name!r}; choose one of {tuple(BY_NAME)}")
    return BY_NAME[name]
