"""Cross-attention: text tokens send queries to the image patches, which supply keys and values.

In BLIP's VQA model the question encoder is a BERT whose every layer has a cross-attention block:
queries come from the question tokens, keys and values from the vision tower's patch features, and
softmax(Q K^T / sqrt(d_k)) V gives each token a context vector. The answer decoder then reads the image-grounded
question. `ask` returns the answer and every layer's token x patch cross-attention.
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
class CrossAttentionResult:
    """A question asked of an image.

    answer: the decoded answer; answer_probability: the product of its tokens' probabilities.
    tokens: (T,) question tokens as the tokenizer split them, special tokens included.
    cross_attentions: (layers, heads, T, 1 + n_patches); key 0 is the vision CLS token, then patches row-major.
    patches: what the vision tower saw, cut into its rows x cols patches.
    """

    question: str
    answer: str
    answer_probability: float
    tokens: list[str]
    cross_attentions: np.ndarray
    patches: PatchGrid
    answer_tokens: list[str]  # (A,) the generated answer tokens, [SEP] included when generated
    answer_question_attention: np.ndarray  # (decoder layers, heads, A, T): where the answer decoder looked
    cost: Cost | None = field(default=None, compare=False)  # what computing it cost; set where it ran

    @property
    def grid(self) -> tuple[int, int]:
        return self.patches.shape

    @property
    def token_patch_matrix(self) -> np.ndarray:
        """(layers, heads, T, n_patches): the weights on patches only (CLS column dropped)."""
        return blip.IMAGE_TOKENS.patches(self.cross_attentions)

    def token_patch_maps(self) -> AttentionMaps:
        """The question tokens' cross-attention on the patches, labelled, for the explorer and the exports."""
        return AttentionMaps(self.token_patch_matrix, self.tokens, self.patches)

    def answer_patch_flow(self, question_matrix: np.ndarray) -> np.ndarray:
        """(A, n_patches): BLIP's answer decoder never sees the patches; it reads the question tokens, which read
        the patches. Compose the two: answer a -> question token t (last decoder layer, mean over heads) times
        t -> patches (question_matrix, the (T, N) view on screen). An attention-flow estimate, not a weight."""
        to_question = self.answer_question_attention[-1].mean(axis=0)  # (A, T)
        return to_question @ question_matrix  # (A, N)


def naming_token(tokens: list[str]) -> int:
    """The index of the question's last word: in "what color is the circle?" the word that names what to look at.
    Falls back to 0 when the question has no word tokens."""
    words = [i for i, t in enumerate(tokens) if t.isalpha() and not (t.startswith("[") and t.endswith("]"))]
    return words[-1] if words else 0


@torch.inference_mode()
def ask(vqa_model, processor, image: Image.Image, question: str, max_answer_tokens: int = 10,
        encoded: blip.QuestionEncoding | None = None) -> CrossAttentionResult:
    """encoded: the question encoder's forward the caller already ran on this image and question
    (blip.encode_question): then only the answer decoder runs here (the vision tower is most of the cost: 577
    tokens at 384 px)."""
    inputs = blip.question_inputs(processor, image, question)
    if encoded is None:
        encoded = blip.encode_inputs(vqa_model, processor, inputs)
    question_embeds, cross = encoded.question_embeds, encoded.cross_attentions  # (1, T, d), (L, heads, T, 1 + N)

    generated = blip.answer(vqa_model, question_embeds, max_answer_tokens)
    new_tokens = generated.new_ids
    answer_question = generated.cross_attentions[:, :, : len(new_tokens)]  # (L_dec, H, A, T): a chose token a + 1
    probabilities = [torch.softmax(s[0], dim=-1)[t].item() for s, t in zip(generated.scores, new_tokens)]
    return CrossAttentionResult(
        question=question,
        answer=processor.tokenizer.decode(new_tokens, skip_special_tokens=True).strip(),
        answer_probability=float(np.prod(probabilities)) if probabilities else 0.0,
        tokens=processor.tokenizer.convert_ids_to_tokens(inputs.input_ids[0]),
        cross_attentions=cross,
        patches=model_patches(inputs.pixel_values, processor.image_processor, blip.patch_size(vqa_model)),
        answer_tokens=processor.tokenizer.convert_ids_to_tokens(new_tokens),
        answer_question_attention=answer_question,
    )
