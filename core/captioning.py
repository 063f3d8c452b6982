"""Captioning: BLIP's decoder writes a caption, cross-attending to the image patches at every step.

`generate` returns no cross-attentions, so we generate first and then run the decoder once more over the finished
caption with output_attentions=True: the query at position t is the state that chose token t + 1, so its
cross-attention row is where the model looked while writing that word.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.attention import stack_attentions
from core.patching import model_image


@dataclass
class CaptionResult:
    """caption: the decoded text. words: (S,) the generated tokens, one per decoding step.
    cross_attentions: (layers, heads, S, 1 + n_patches): row s is where the decoder looked while choosing words[s].
    """

    caption: str
    words: list[str]
    cross_attentions: np.ndarray
    grid: tuple[int, int]
    patch_size: int
    model_image: np.ndarray


@torch.inference_mode()
def caption(caption_model, processor, image: Image.Image, max_tokens: int = 30) -> CaptionResult:
    pixel_values = processor(images=image, return_tensors="pt").pixel_values  # (1, 3, H, W)
    image_embeds = caption_model.vision_model(pixel_values=pixel_values).last_hidden_state  # (1, 1 + N, d)
    text_config = caption_model.config.text_config
    generated = caption_model.text_decoder.generate(
        input_ids=torch.full((1, 1), text_config.bos_token_id),
        eos_token_id=text_config.sep_token_id,
        pad_token_id=text_config.pad_token_id,
        encoder_hidden_states=image_embeds,
        max_new_tokens=max_tokens,
        do_sample=False,
        num_beams=1,
    )  # (1, 1 + S): [DEC] w_1 ... w_S (the last may be [SEP])
    out = caption_model.text_decoder(input_ids=generated, encoder_hidden_states=image_embeds, output_attentions=True)
    cross = stack_attentions(out.cross_attentions)  # (L, heads, 1 + S, 1 + N)
    new_ids = generated[0, 1:].tolist()
    patch = caption_model.config.vision_config.patch_size
    return CaptionResult(
        caption=processor.tokenizer.decode(new_ids, skip_special_tokens=True).strip(),
        words=processor.tokenizer.convert_ids_to_tokens(new_ids),
        cross_attentions=cross[:, :, :-1],  # query t chose token t + 1: drop the last query, it chose nothing shown
        grid=(pixel_values.shape[2] // patch, pixel_values.shape[3] // patch),
        patch_size=patch,
        model_image=model_image(pixel_values, processor.image_processor),
    )
