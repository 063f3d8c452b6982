"""BLIP's internals, in one place: the vision tower, the question encoder, the decoders, where the CLS token is.

BlipForQuestionAnswering: vision_model (ViT: [CLS, patches row-major]) -> text_encoder (a BERT whose every layer
cross-attends to the vision output) -> text_decoder (reads the encoded question, writes the answer).
BlipForConditionalGeneration: vision_model -> text_decoder (cross-attends to the vision output, writes a caption).

Two facts every caller would otherwise rediscover:
- the question-encoding forward (`encode_question`) is the one place it runs: the answer, the Q/K/V maths, the
  masking test and the cost comparison all call it;
- `generate(..., output_attentions=True)` returns no cross-attentions, so `generate_then_rerun` generates first
  and runs the decoder once more over the finished ids with output_attentions=True.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from transformers import BlipImageProcessorPil, BlipProcessor

from core.attention import stack_attentions
from core.models.tokens import CLS_THEN_PATCHES, square_patch_grid, vision_patch_size

IMAGE_TOKENS = CLS_THEN_PATCHES


patch_size = vision_patch_size  # (model) -> P in pixels
grid = square_patch_grid  # (model, pixel_values) -> (rows, cols)


def vision_embeds(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """(B, 1 + N, d_img): the vision tower's output, the keys' and values' source of every cross-attention."""
    return model.vision_model(pixel_values=pixel_values).last_hidden_state


@dataclass
class QuestionEncoding:
    """One forward of BLIP's question encoder, kept so the answer and the maths reuse it without running the
    model again. image_embeds: (1+N, d_img); hidden_states: (layers + 1, T, d), the input of each layer (the last
    is the encoder's output); cross_attentions: (layers, heads, T, 1+N); tokens: (T,)."""

    image_embeds: np.ndarray
    hidden_states: np.ndarray
    cross_attentions: np.ndarray
    tokens: list[str]

    @property
    def question_embeds(self) -> torch.Tensor:
        """(1, T, d): the image-grounded question, what the answer decoder reads."""
        return torch.from_numpy(self.hidden_states[-1])[None]


def question_inputs(processor, image: Image.Image, question: str):
    """The processor's tensors for one image and question (pixel_values, input_ids, attention_mask)."""
    return processor(images=image, text=question, return_tensors="pt", truncation=True)


@torch.inference_mode()
def encode_inputs(model, processor, inputs) -> QuestionEncoding:
    """vision tower -> question encoder, with every layer's input and cross-attention (one question)."""
    image_embeds = vision_embeds(model, inputs.pixel_values)  # (1, 1+N, d_img)
    encoded = model.text_encoder(
        input_ids=inputs.input_ids,
        attention_mask=inputs.attention_mask,
        encoder_hidden_states=image_embeds,  # the keys' and values' source
        output_attentions=True,
        output_hidden_states=True,
    )
    return QuestionEncoding(
        image_embeds=image_embeds[0].numpy(),
        hidden_states=torch.stack(encoded.hidden_states)[:, 0].numpy(),  # (L + 1, T, d)
        cross_attentions=stack_attentions(encoded.cross_attentions),  # (L, heads, T, 1+N)
        tokens=processor.tokenizer.convert_ids_to_tokens(inputs.input_ids[0]),
    )


def encode_question(model, processor, image: Image.Image, question: str) -> QuestionEncoding:
    return encode_inputs(model, processor, question_inputs(processor, image, question))


def cross_attention_layer(model, layer: int):
    """The question encoder's layer `layer`: .attention (self), .crossattention (.self: query/key/value and the
    head sizes; .output: dense and LayerNorm), for recomputing the formula by hand."""
    return model.text_encoder.encoder.layer[layer]


@dataclass
class Generated:
    """ids: (1 + S,) the start token then the generated ones; cross_attentions: (layers, heads, 1 + S, keys), row
    t is the state that chose token t + 1; scores: one (1, vocab) logit row per generated token."""

    ids: torch.Tensor
    cross_attentions: np.ndarray
    scores: tuple[torch.Tensor, ...]

    @property
    def new_ids(self) -> torch.Tensor:
        return self.ids[1:]


@torch.inference_mode()
def generate_then_rerun(model, start_token_id: int, encoder_hidden_states: torch.Tensor,
                        max_new_tokens: int) -> Generated:
    """Greedy decoding with the text decoder reading `encoder_hidden_states` (the vision output for a caption, the
    encoded question for an answer), then one more decoder pass over the finished ids for the cross-attentions."""
    text_config = model.config.text_config
    generated = model.text_decoder.generate(
        input_ids=torch.full((1, 1), start_token_id),
        eos_token_id=text_config.sep_token_id,
        pad_token_id=text_config.pad_token_id,
        encoder_hidden_states=encoder_hidden_states,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        output_scores=True,
        return_dict_in_generate=True,
    )  # sequences (1, 1 + S): [start] w_1 ... w_S (the last may be [SEP])
    out = model.text_decoder(input_ids=generated.sequences, encoder_hidden_states=encoder_hidden_states,
                             output_attentions=True)
    return Generated(generated.sequences[0], stack_attentions(out.cross_attentions), tuple(generated.scores))


def answer(model, question_embeds: torch.Tensor, max_new_tokens: int) -> Generated:
    """The VQA answer decoder on an encoded question (BlipForQuestionAnswering.generate minus its second vision
    forward): its cross-attention keys are the question tokens."""
    return generate_then_rerun(model, model.decoder_start_token_id, question_embeds, max_new_tokens)


def caption(model, pixel_values: torch.Tensor, max_new_tokens: int) -> Generated:
    """The captioning decoder on the image: its cross-attention keys are the image tokens (CLS + patches)."""
    return generate_then_rerun(model, model.config.text_config.bos_token_id, vision_embeds(model, pixel_values),
                               max_new_tokens)


@torch.inference_mode()
def answer_token_probabilities(model, question_embeds: torch.Tensor, answer_ids: list[int]) -> torch.Tensor:
    """(A,) P(answer token a | question, answer tokens before a) under the answer decoder, teacher-forced."""
    ids = torch.tensor([[model.decoder_start_token_id] + answer_ids])  # (1, 1 + A)
    logits = model.text_decoder(input_ids=ids, encoder_hidden_states=question_embeds).logits  # (1, 1 + A, V)
    probs = torch.softmax(logits[0, :-1], dim=-1)  # position t predicts token t + 1
    # long dtype: an answer that decodes to nothing has no ids, and an empty float tensor cannot index
    return probs[torch.arange(len(answer_ids)), torch.tensor(answer_ids, dtype=torch.long)]


def full_size_processor(tokenizer) -> BlipProcessor:
    """The default 384 px image processor with the given tokenizer: for random-weight full-size builds."""
    return BlipProcessor(image_processor=BlipImageProcessorPil(), tokenizer=tokenizer)
