"""The bundled pack's tiny models: the same transformers classes as the hub checkpoints, sized for 2 CPU cores.

Each builder returns a randomly initialised model plus its processor. Training (core/shapes/train.py) fits them on the
shapes world and `save_pretrained`s both, so the bundled pack and the hub pack load through the same
`from_pretrained` path (core/models/registry.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import init
from transformers import (
    BertTokenizerFast,
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    BlipImageProcessorPil,
    BlipProcessor,
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPModel,
    CLIPProcessor,
    ViltConfig,
    ViltForQuestionAnswering,
    ViltImageProcessorPil,
    ViltProcessor,
)

from core.shapes import shapes_world

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]  # [DEC] starts BLIP's decoder, as on the hub


@dataclass(frozen=True)
class TinySize:
    """Width and depth shared by the tiny models."""

    hidden: int = 64  # 64 wide: BLIP learned colour-to-shape binding at this width in ~7000 steps (DESIGN.md)
    heads: int = 4  # 16-dim heads; 4 of them keep the per-head attention pictures few enough to browse
    mlp: int = 128
    vision_layers: int = 3
    text_layers: int = 2
    fusion_layers: int = 4  # ViLT has no separate towers: its depth is where the modalities mix
    image_size: int = shapes_world.WorldConfig.image_size
    patch_size: int = 8  # 64 px / 8 px = an 8x8 grid of 64 patches
    max_text_tokens: int = 32  # the longest template caption is 15 tokens with [CLS]/[SEP]


SIZE = TinySize()
IMAGE_MEAN = [0.5, 0.5, 0.5]
IMAGE_STD = [0.5, 0.5, 0.5]


def build_tokenizer() -> BertTokenizerFast:
    """A real WordPiece tokenizer whose vocabulary is the shapes world's words."""
    words = SPECIAL_TOKENS + shapes_world.vocabulary()
    return BertTokenizerFast(
        vocab={word: i for i, word in enumerate(words)},
        do_lower_case=True,
        model_max_length=SIZE.max_text_tokens,
        bos_token="[DEC]",
    )


def _vision_config() -> dict:
    return dict(
        hidden_size=SIZE.hidden,
        intermediate_size=SIZE.mlp,
        num_hidden_layers=SIZE.vision_layers,
        num_attention_heads=SIZE.heads,
        image_size=SIZE.image_size,
        patch_size=SIZE.patch_size,
    )


def _text_config(tokenizer: BertTokenizerFast) -> dict:
    return dict(
        vocab_size=len(tokenizer),
        hidden_size=SIZE.hidden,
        intermediate_size=SIZE.mlp,
        num_hidden_layers=SIZE.text_layers,
        num_attention_heads=SIZE.heads,
        max_position_embeddings=SIZE.max_text_tokens,
        pad_token_id=tokenizer.pad_token_id,
    )


def _image_kwargs() -> dict:
    return dict(image_mean=IMAGE_MEAN, image_std=IMAGE_STD, do_convert_rgb=True)


def build_clip(tokenizer: BertTokenizerFast) -> tuple[CLIPModel, CLIPProcessor]:
    text = _text_config(tokenizer) | dict(
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,  # CLIP pools the text at its first eos token: [SEP] here
    )
    config = CLIPConfig(text_config=text, vision_config=_vision_config(), projection_dim=SIZE.hidden)
    size = SIZE.image_size
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}, **_image_kwargs()
    )
    return CLIPModel(config), CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def _blip_config(tokenizer: BertTokenizerFast) -> BlipConfig:
    vision = _vision_config() | dict(hidden_act="quick_gelu")  # CLIP's, since the tower starts from CLIP's layers
    text = _text_config(tokenizer) | dict(
        encoder_hidden_size=SIZE.hidden,
        bos_token_id=tokenizer.convert_tokens_to_ids("[DEC]"),
        sep_token_id=tokenizer.sep_token_id,
    )
    return BlipConfig(text_config=text, vision_config=vision, projection_dim=SIZE.hidden)


def _blip_processor(tokenizer: BertTokenizerFast) -> BlipProcessor:
    size = SIZE.image_size
    image_processor = BlipImageProcessorPil(size={"height": size, "width": size}, **_image_kwargs())
    return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_vqa(tokenizer: BertTokenizerFast) -> tuple[BlipForQuestionAnswering, BlipProcessor]:
    return BlipForQuestionAnswering(_blip_config(tokenizer)), _blip_processor(tokenizer)


def build_caption(tokenizer: BertTokenizerFast) -> tuple[BlipForConditionalGeneration, BlipProcessor]:
    return BlipForConditionalGeneration(_blip_config(tokenizer)), _blip_processor(tokenizer)


def build_fusion(tokenizer: BertTokenizerFast) -> tuple[ViltForQuestionAnswering, ViltProcessor]:
    answers = shapes_world.answer_vocabulary()
    config = ViltConfig(
        vocab_size=len(tokenizer),
        hidden_size=SIZE.hidden,
        intermediate_size=SIZE.mlp,
        num_hidden_layers=SIZE.fusion_layers,
        num_attention_heads=SIZE.heads,
        image_size=SIZE.image_size,
        patch_size=SIZE.patch_size,
        max_position_embeddings=SIZE.max_text_tokens,
        num_labels=len(answers),
        hidden_act="quick_gelu",  # CLIP's activation, so the vision layers copied from it compute the same function
        id2label=dict(enumerate(answers)),
        label2id={a: i for i, a in enumerate(answers)},
    )
    image_processor = ViltImageProcessorPil(
        size={"shortest_edge": SIZE.image_size, "longest_edge": SIZE.image_size * 1333 // 800},
        size_divisor=SIZE.patch_size,
        **_image_kwargs(),
    )
    model = ViltForQuestionAnswering(config)
    with torch.no_grad():  # ViLT starts its image position embeddings and CLS at exactly zero; ViT's usual init
        init.trunc_normal_(model.vilt.embeddings.position_embeddings, std=0.02)  # breaks that symmetry at once
        init.trunc_normal_(model.vilt.embeddings.cls_token, std=0.02)
    return model, ViltProcessor(image_processor=image_processor, tokenizer=tokenizer)


def _copy_linear(pairs) -> None:
    for src, dst in pairs:
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias)


def init_fusion_from_clip(vilt: ViltForQuestionAnswering, clip: CLIPModel) -> None:
    """Start ViLT's image side from a trained CLIP vision tower, as the real ViLT started from ViT weights.

    Copies the patch projection, CLS and position embeddings, and CLIP's vision layers into ViLT's first layers
    (both are pre-LayerNorm transformer layers: LN -> attention -> residual, LN -> MLP -> residual). CLIP's extra
    LayerNorm before the first layer has no ViLT counterpart and is dropped. Measured here: from scratch, the tiny
    ViLT stayed at chance (50%) on "what color is the <shape>?" after 3000 steps; it could not yet tell shapes apart.
    """
    src, dst = clip.vision_model, vilt.vilt
    with torch.no_grad():
        dst.embeddings.patch_embeddings.projection.weight.copy_(src.embeddings.patch_embedding.weight)
        dst.embeddings.patch_embeddings.projection.bias.zero_()
        dst.embeddings.cls_token[0, 0].copy_(src.embeddings.class_embedding)
        dst.embeddings.position_embeddings[0].copy_(src.embeddings.position_embedding.weight)
        for a, b in zip(src.encoder.layers, dst.encoder.layer):
            _copy_linear([
                (a.layer_norm1, b.layernorm_before),
                (a.self_attn.q_proj, b.attention.attention.query),
                (a.self_attn.k_proj, b.attention.attention.key),
                (a.self_attn.v_proj, b.attention.attention.value),
                (a.self_attn.out_proj, b.attention.output.dense),
                (a.layer_norm2, b.layernorm_after),
                (a.mlp.fc1, b.intermediate.dense),
                (a.mlp.fc2, b.output.dense),
            ])


def init_blip_vision_from_clip(blip, clip: CLIPModel) -> None:
    """Start BLIP's vision tower from a trained CLIP vision tower (the real BLIP started from ViT weights).
    Same layer structure; BLIP packs q, k, v into one `qkv` projection, and has no LayerNorm before layer 0.
    Measured here: from scratch, the tiny BLIP VQA was still at 65% on "what color is the <shape>?" after 6500 steps
    (chance 50%)."""
    src, dst = clip.vision_model, blip.vision_model
    with torch.no_grad():
        dst.embeddings.patch_embedding.weight.copy_(src.embeddings.patch_embedding.weight)
        dst.embeddings.patch_embedding.bias.zero_()
        dst.embeddings.class_embedding[0, 0].copy_(src.embeddings.class_embedding)
        dst.embeddings.position_embedding[0].copy_(src.embeddings.position_embedding.weight)
        for a, b in zip(src.encoder.layers, dst.encoder.layers):
            attention = a.self_attn
            b.self_attn.qkv.weight.copy_(torch.cat([attention.q_proj.weight, attention.k_proj.weight,
                                                    attention.v_proj.weight]))  # (3d, d): q rows, then k, then v
            b.self_attn.qkv.bias.copy_(torch.cat([attention.q_proj.bias, attention.k_proj.bias,
                                                  attention.v_proj.bias]))
            _copy_linear([(a.self_attn.out_proj, b.self_attn.projection), (a.layer_norm1, b.layer_norm1),
                          (a.layer_norm2, b.layer_norm2), (a.mlp.fc1, b.mlp.fc1), (a.mlp.fc2, b.mlp.fc2)])
        _copy_linear([(src.post_layernorm, dst.post_layernorm)])


def init_vqa_from_caption(vqa: BlipForQuestionAnswering, caption: BlipForConditionalGeneration) -> None:
    """Start BLIP VQA from the trained captioner, as the real BLIP VQA is fine-tuned from BLIP's pretrained weights:
    the vision tower as is, the question encoder from the caption decoder's BERT (same layers, cross-attention
    included; it reads bidirectionally here), and the answer decoder from the caption decoder. Measured here:
    started from CLIP's vision layers alone, the tiny VQA sat at chance (50%) on "what color is the <shape>?" for
    2500 steps, while the captioner reached 94% exact captions in the same steps."""
    vqa.vision_model.load_state_dict(caption.vision_model.state_dict())
    vqa.text_encoder.load_state_dict(caption.text_decoder.bert.state_dict())
    vqa.text_decoder.load_state_dict(caption.text_decoder.state_dict())


# Which trained role each role starts from (core/shapes/train.py trains them in this order: clip, then caption and
# fusion, then vqa).
INIT_FROM = {
    "caption": ("clip", CLIPModel, init_blip_vision_from_clip),
    "fusion": ("clip", CLIPModel, init_fusion_from_clip),
    "vqa": ("caption", BlipForConditionalGeneration, init_vqa_from_caption),
}

BUILDERS = {"clip": build_clip, "vqa": build_vqa, "caption": build_caption, "fusion": build_fusion}


def pixel_values(scenes: list[shapes_world.Scene]) -> torch.Tensor:
    """The processors' normalisation, done in one numpy op for a training batch of native-size scenes.
    (A test checks it equals each processor's output.)"""
    images = np.stack([np.asarray(s.image, dtype=np.float32) for s in scenes]) / 255.0  # (B, H, W, 3)
    mean, std = np.array(IMAGE_MEAN), np.array(IMAGE_STD)
    return torch.from_numpy(((images - mean) / std).astype(np.float32)).permute(0, 3, 1, 2).contiguous()
