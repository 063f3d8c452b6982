"""CLIP's internals, in one place: which submodule, which output, where the CLS token is.

CLIPModel has two towers (vision_model, text_model) that meet only in one dot product of their projected pooled
outputs. Its vision tower's tokens are [CLS, patch 0, ..., patch N-1] in reading order.
"""
from __future__ import annotations

import numpy as np
import torch
from transformers import CLIPImageProcessorPil, CLIPProcessor

from core.attention import stack_attentions
from core.models.tokens import CLS_THEN_PATCHES, square_patch_grid, vision_patch_size

IMAGE_TOKENS = CLS_THEN_PATCHES


patch_size = vision_patch_size  # (model) -> P in pixels
grid = square_patch_grid  # (model, pixel_values) -> (rows, cols)


def vision(model, pixel_values: torch.Tensor, attentions: bool = False):
    """The vision tower's forward: last_hidden_state (B, 1 + N, d), pooler_output (B, d) the post-LayerNorm CLS,
    attentions when asked (eager attention only; stack them with `vision_attentions`)."""
    return model.vision_model(pixel_values=pixel_values, output_attentions=attentions)


def vision_attentions(out) -> np.ndarray:
    """(layers, heads, 1 + N, 1 + N) of the first image, through the one stacker that fails loudly."""
    return stack_attentions(out.attentions)


def patch_vectors(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """(N, d): each patch of the first image after the linear projection, before positions, row-major."""
    return model.vision_model.embeddings.patch_embedding(pixel_values)[0].flatten(1).T


def position_embeddings(model) -> np.ndarray:
    """(N, d): the learned position of each patch, the CLS row left out. A copy: .float().numpy() of an fp32
    weight is a view of it, and a cached view of a memory-mapped safetensors weight kept the whole checkpoint file
    mapped (and its resident pages counted in RSS) after the memory budget evicted the model."""
    weight = model.vision_model.embeddings.position_embedding.weight  # (1 + N, d)
    return IMAGE_TOKENS.patches(weight.detach().float().numpy(), axis=0).copy()


def image_embeds(model, vision_out) -> torch.Tensor:
    """(B, D): the pooled CLS through the visual projection, what CLIP's loss was trained on (not unit length)."""
    return model.visual_projection(vision_out.pooler_output)


def patch_embeds(model, vision_out, index: int = 0) -> torch.Tensor:
    """(N, D): image `index`'s patch tokens through the same post-LayerNorm and projection as CLS (a probe: CLIP's
    loss never saw this path)."""
    patches = vision_out.last_hidden_state[index, IMAGE_TOKENS.n_prefix:]  # (N, d)
    return model.visual_projection(model.vision_model.post_layernorm(patches))


def text_embeds(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(T, D): each text's pooled end-of-text token through the text projection (not unit length)."""
    text = model.text_model(input_ids=input_ids, attention_mask=attention_mask)
    return model.text_projection(text.pooler_output)


def logit_scale(model) -> float:
    """CLIP's learned 1/temperature."""
    return float(model.logit_scale.exp())


def full_size_processor(tokenizer) -> CLIPProcessor:
    """The default 224 px image processor with the given tokenizer: for random-weight full-size builds."""
    return CLIPProcessor(image_processor=CLIPImageProcessorPil(), tokenizer=tokenizer)
