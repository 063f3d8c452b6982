"""ViLT's internals, in one place: the joint stream's layout and the patch order.

ViltForQuestionAnswering runs one transformer over [text tokens | image CLS | image patches]. Footgun:
`ViltEmbeddings.visual_embed` picks the image patches with `torch.multinomial`, so image token k is NOT patch k in
reading order, and ViltModel does not say which it is. `forward` calls `visual_embed` itself, keeps the
`patch_index` it returns (token -> (row, col)), and hands the embeddings to the model through its `image_embeds`
argument: the same computation, with the map kept, and nothing of ViLT patched.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import ViltImageProcessorPil, ViltProcessor

from core.attention import stack_attentions
from core.models.tokens import CLS_THEN_PATCHES

IMAGE_TOKENS = CLS_THEN_PATCHES  # within the image part of the stream, which follows the text tokens


def patch_size(model) -> int:
    return model.config.patch_size


def grid(model, pixel_values: torch.Tensor) -> tuple[int, int]:
    """(rows, cols) of the padded image's patches (ViLT's grid follows the image's aspect ratio)."""
    p = patch_size(model)
    return pixel_values.shape[2] // p, pixel_values.shape[3] // p


@dataclass
class JointForward:
    """One forward over the joint stream. attentions: (layers, heads, S, S) with S = n_text + n_image;
    patch_positions: (n_image - 1, 2) the (row, col) of each image patch token, in stream order; grid: (rows, cols)
    of the patch map patch_positions index into; logits: (labels,) the VQA head's."""

    attentions: np.ndarray
    n_image: int
    patch_positions: np.ndarray
    grid: tuple[int, int]
    logits: torch.Tensor


@torch.inference_mode()
def forward(model, inputs) -> JointForward:
    """inputs: the processor's (input_ids, attention_mask, token_type_ids, pixel_values, pixel_mask)."""
    image_embeds, image_mask, (patch_index, (rows, cols)) = model.vilt.embeddings.visual_embed(
        inputs.pixel_values, inputs.pixel_mask, max_image_length=model.config.max_image_length
    )  # image_embeds: (1, 1 + n, d) with positions added; patch_index: (1, n, 2)
    out = model(
        input_ids=inputs.input_ids,
        attention_mask=inputs.attention_mask,
        token_type_ids=inputs.token_type_ids,
        image_embeds=image_embeds,
        pixel_mask=image_mask,
        output_attentions=True,
    )
    return JointForward(stack_attentions(out.attentions), image_embeds.shape[1], patch_index[0].numpy(),
                        (rows, cols), out.logits[0])


def full_size_processor(tokenizer) -> ViltProcessor:
    """The default image processor (shortest edge 384) with the given tokenizer: for random-weight builds."""
    return ViltProcessor(image_processor=ViltImageProcessorPil(), tokenizer=tokenizer)
