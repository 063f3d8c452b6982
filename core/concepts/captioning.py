"""Captioning: BLIP's decoder writes a caption, cross-attending to the image patches at every step.

`generate` returns no cross-attentions, so core.models.blip generates first and then runs the decoder once more
over the finished caption with output_attentions=True: the query at position t is the state that chose token
t + 1, so its cross-attention row is where the model looked while writing that word.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from core.analysis.cost import Cost
from core.attention.maps import AttentionMaps
from core.attention.patch_grid import PatchGrid
from core.concepts.patching import model_patches
from core.models import blip


@dataclass
class CaptionResult:
    """caption: the decoded text. words: (S,) the generated tokens, one per decoding step.
    cross_attentions: (layers, heads, S, 1 + n_patches): row s is where the decoder looked while choosing words[s].
    """

    caption: str
    words: list[str]
    cross_attentions: np.ndarray
    patches: PatchGrid  # what the vision tower saw, in its rows x cols patches
    cost: Cost | None = field(default=None, compare=False)  # what computing it cost; set where it ran

    @property
    def grid(self) -> tuple[int, int]:
        return self.patches.shape

    def word_patch_maps(self) -> AttentionMaps:
        """Each decoding step's cross-attention on the patches (the image's CLS dropped), a row per written word."""
        return AttentionMaps(np.ascontiguousarray(blip.IMAGE_TOKENS.patches(self.cross_attentions)), self.words,
                             self.patches)


@torch.inference_mode()
def caption(caption_model, processor, image: Image.Image, max_tokens: int = 30) -> CaptionResult:
    pixel_values = processor(images=image, return_tensors="pt").pixel_values  # (1, 3, H, W)
    generated = blip.caption(caption_model, pixel_values, max_tokens)  # ids: [DEC] w_1 ... w_S
    new_ids = generated.new_ids.tolist()
    return CaptionResult(
        caption=processor.tokenizer.decode(new_ids, skip_special_tokens=True).strip(),
        words=processor.tokenizer.convert_ids_to_tokens(new_ids),
        # (L, heads, 1 + S, 1 + N): query t chose token t + 1: drop the last query, it chose nothing shown
        cross_attentions=generated.cross_attentions[:, :, :-1],
        patches=model_patches(pixel_values, processor.image_processor, blip.patch_size(caption_model)),
    )
