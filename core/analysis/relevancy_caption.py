"""The four explanation methods (core/analysis/relevancy.py) for one word of a BLIP caption.

BLIP's caption decoder is a BERT-like stack whose every layer does causal self-attention over the written tokens
(T x T) and then cross-attends to the image tokens [CLS, patches row-major] (T x (1 + N)): the same layout as the VQA
question encoder, so the same rules apply unchanged (relevancy.text_rollout, relevancy.chefer_relevancy with the
image side left as the identity). What changes is the target: y = log P(words[step] | image, words before it), the
caption teacher-forced through the decoder, and the explained row is the decoder position that chose that word
(position `step`: the input is [BOS] w_1 ... w_S and position s predicts w_{s+1}).
"""
from __future__ import annotations

import torch
from PIL import Image

from core.analysis.relevancy import Explanations, attention_gradients, chefer_relevancy, text_rollout
from core.models import blip


def explain_word(caption_model, processor, image: Image.Image, word_ids: list[int], step: int) -> Explanations:
    """word_ids: (S,) the caption's generated ids (CaptionResult's words, as ids); step: which of them to explain.

    Returns Explanations with one row per written word (the last decoder position, which chose nothing shown, is
    dropped, as CaptionResult does): raw and rollout rows are each word's own; the gradient methods' row `step` is
    the one explained (the other rows are relevancies for the same target, not their own word's)."""
    if not 0 <= step < len(word_ids):
        raise ValueError(f"step {step} is outside the caption's {len(word_ids)} words")
    pixel_values = processor(images=image, return_tensors="pt").pixel_values  # (1, 3, H, W)
    ids = torch.tensor([[caption_model.config.text_config.bos_token_id, *word_ids]])  # (1, 1 + S)
    with torch.inference_mode(False), torch.enable_grad():
        with torch.no_grad():
            image_embeds = blip.vision_embeds(caption_model, pixel_values)  # (1, 1 + N, d_img): R_ii = I
        out = caption_model.text_decoder(input_ids=ids, encoder_hidden_states=image_embeds, output_attentions=True)
        if out.attentions is None or out.cross_attentions is None:
            raise RuntimeError("BLIP's text decoder returned no attention maps: load it with eager attention")
        log_probs = torch.log_softmax(out.logits[0, step], dim=-1)  # (V,) position `step` chose word `step`
        target = log_probs[word_ids[step]]
        # (L, H, 1 + S, 1 + S) causal self-attention, (L, H, 1 + S, 1 + N) cross-attention, with their gradients
        self_a, self_g, cross_a, cross_g = attention_gradients(target, out.attentions, out.cross_attentions)
    words = slice(0, len(word_ids))  # the rows that chose a word: drop the last position
    patches = blip.IMAGE_TOKENS.patches
    return Explanations(
        answer=processor.tokenizer.convert_ids_to_tokens([word_ids[step]])[0],
        probability=float(torch.exp(target.detach())),
        tokens=processor.tokenizer.convert_ids_to_tokens(word_ids),
        cross_attentions=patches(cross_a[:, :, words]),
        cross_gradients=patches(cross_g[:, :, words]),
        rollout=patches(text_rollout(self_a, cross_a)[words]),
        chefer=patches(chefer_relevancy(self_a, self_g, cross_a, cross_g)[words]),
    )
