"""Early fusion: text tokens and image patches in one stream, mixed by plain self-attention from layer 0.

ViLT concatenates [text tokens | image CLS | image patches], each with a modality (token-type) embedding, and runs
one transformer over all of them. Footgun: ViLT shuffles the image patches, so image token k is NOT patch k in
reading order; core.models.vilt.forward keeps the map (token -> (row, col)), and everything here places patches by it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
from PIL import Image

from core.analysis.cost import Cost
from core.attention.maps import AttentionMaps
from core.attention.patch_grid import PatchGrid
from core.concepts.patching import model_image
from core.models import vilt


@dataclass(frozen=True)
class ModalityMass:
    """How much the two modalities read each other, per (layer, head); both (L, H), 0 = they ignore each other.

    text_to_image: the mean over text queries of the attention they put on image tokens.
    image_to_text: the mean over image queries of the attention they put on text tokens.
    """

    text_to_image: np.ndarray
    image_to_text: np.ndarray

    def named(self) -> tuple[tuple[str, np.ndarray], ...]:
        """(direction as the page writes it, (L, H) values), text->image first."""
        return ("text->image", self.text_to_image), ("image->text", self.image_to_text)


@dataclass(frozen=True)
class Blocks:
    """A joint (S, S) matrix (text first, queries as rows) cut into its four modality blocks."""

    text_text: np.ndarray  # (T, T)
    text_image: np.ndarray  # (T, I)
    image_text: np.ndarray  # (I, T)
    image_image: np.ndarray  # (I, I)

    def named(self) -> tuple[tuple[str, np.ndarray], ...]:
        return (("text->text", self.text_text), ("text->image", self.text_image),
                ("image->text", self.image_text), ("image->image", self.image_image))

    def reassembled(self) -> np.ndarray:
        """(S, S) the blocks put back together: equal to the matrix they came from."""
        return np.block([[self.text_text, self.text_image], [self.image_text, self.image_image]])


@dataclass(frozen=True)
class StreamRow:
    """One token of the joint stream as ViLT sees it: what is added to its content vector."""

    token: str
    modality: str  # "text" or "image"
    token_type: int  # the token-type (modality) embedding's index: 0 text, 1 image
    position: str  # the text index, the patch's "(row, col)", or "image CLS"


@dataclass
class FusionResult:
    """One question through ViLT.

    tokens: (S,) labels of the joint stream: n_text text tokens, then the image CLS, then n_image - 1 patches.
    attentions: (layers, heads, S, S) self-attention over the joint stream.
    patch_positions: (n_image - 1, 2) the (row, col) of each image patch token, in stream order.
    top_answers: [(answer, score)] the 5 best, score = sigmoid of ViLT's VQA logit.
    """

    question: str
    tokens: list[str]
    n_text: int
    n_image: int
    attentions: np.ndarray
    patch_positions: np.ndarray
    patches: PatchGrid  # the padded image ViLT saw, in its rows x cols patches
    top_answers: list[tuple[str, float]]
    cost: Cost | None = field(default=None, compare=False)  # what computing it cost; set where it ran

    @property
    def grid(self) -> tuple[int, int]:
        return self.patches.shape

    @property
    def answer(self) -> str:
        return self.top_answers[0][0]

    @cached_property
    def modality_mass(self) -> ModalityMass:
        """`cross_modal_mass` of these attentions, computed once: the page redraws it on every rerun."""
        return cross_modal_mass(self.attentions, self.n_text)

    def reading_order(self) -> np.ndarray:
        """(S,) a permutation of the stream: text tokens and image CLS stay, patches sorted row by row. Apply it to
        both axes of an attention matrix to show the patches in reading order instead of ViLT's shuffled one."""
        first_patch = self.n_text + vilt.IMAGE_TOKENS.n_prefix
        return np.concatenate([np.arange(first_patch), self._patch_tokens()])

    def stream_rows(self) -> list[StreamRow]:
        """The joint stream as ViLT sees it, one row per token: its label, modality (the token-type embedding
        added: 0 text, 1 image) and position (text index, or the patch's (row, col); the image CLS has none)."""
        return self._stream_rows

    @cached_property
    def _stream_rows(self) -> list[StreamRow]:
        rows = [StreamRow(t, "text", 0, str(i)) for i, t in enumerate(self.tokens[: self.n_text])]
        rows.append(StreamRow("[IMG]", "image", 1, "image CLS"))
        rows += [StreamRow(self.tokens[self.n_text + vilt.IMAGE_TOKENS.patch_token(k)], "image", 1, f"({r}, {c})")
                 for k, (r, c) in enumerate(self.patch_positions)]
        return rows

    def text_to_patch_maps(self) -> AttentionMaps:
        """(L, H, n_text, rows * cols): every text token's attention on the image patches, the patches in reading
        order (ViLT's shuffled order undone), for views that index patches row by row."""
        weights = np.ascontiguousarray(self.attentions[:, :, : self.n_text, self._patch_tokens()])
        return AttentionMaps(weights, self.tokens[: self.n_text], self.patches)

    def patch_to_text_maps(self) -> AttentionMaps:
        """(L, H, rows * cols, n_text): every image patch's attention on the text tokens (the image -> text block,
        image CLS left out), the patches (now the queries) in reading order: ViLT's shuffled order undone."""
        weights = np.ascontiguousarray(self.attentions[:, :, self._patch_tokens(), : self.n_text])
        return AttentionMaps(weights, self.patches.labels(), self.patches, key_labels=self.tokens[: self.n_text],
                             grid_side="queries")

    def _patch_tokens(self) -> np.ndarray:
        """(rows * cols,) the stream index of each patch's token, patches in reading order."""
        first_patch = self.n_text + vilt.IMAGE_TOKENS.n_prefix
        cols = self.grid[1]
        return first_patch + np.argsort(self.patch_positions[:, 0] * cols + self.patch_positions[:, 1], kind="stable")

    def text_to_patches(self, matrix: np.ndarray, text_index: int) -> np.ndarray:
        """(S, S) matrix, a text token -> (rows, cols): its attention on each patch, placed by patch_index."""
        first_patch = self.n_text + vilt.IMAGE_TOKENS.n_prefix
        return self.patches.on_grid(matrix[text_index, first_patch:], self.patch_positions)

    def patch_to_text(self, matrix: np.ndarray, row: int, col: int) -> np.ndarray:
        """(S, S) matrix, a patch (row, col) -> (n_text,): how much that patch's token attends to each text token."""
        hits = np.flatnonzero((self.patch_positions[:, 0] == row) & (self.patch_positions[:, 1] == col))
        if hits.size == 0:
            raise ValueError(f"no image token carries patch ({row}, {col})")
        return matrix[self.n_text + vilt.IMAGE_TOKENS.patch_token(hits[0]), : self.n_text]

    def blocks(self, matrix: np.ndarray) -> Blocks:
        """Split a (S, S) matrix into its four modality blocks (queries -> keys)."""
        t = self.n_text
        return Blocks(matrix[:t, :t], matrix[:t, t:], matrix[t:, :t], matrix[t:, t:])


def block_label_positions(n_text: int, n_image: int) -> list[tuple[float, float, str]]:
    """(column, row, name) at the centre of each of the four blocks of the joint matrix (text first)."""
    text_mid, image_mid = (n_text - 1) / 2, n_text + (n_image - 1) / 2
    return [(text_mid, text_mid, "text->text"), (image_mid, text_mid, "text->image"),
            (text_mid, image_mid, "image->text"), (image_mid, image_mid, "image->image")]


def cross_modal_mass(attentions: np.ndarray, n_text: int) -> ModalityMass:
    """(L, H, S, S) joint attention with the text first -> how much each modality reads the other, per (layer,
    head)."""
    return ModalityMass(text_to_image=attentions[:, :, :n_text, n_text:].sum(axis=-1).mean(axis=-1),  # (L, H)
                        image_to_text=attentions[:, :, n_text:, :n_text].sum(axis=-1).mean(axis=-1))  # (L, H)


@torch.inference_mode()
def fuse(vilt_model, processor, image: Image.Image, question: str) -> FusionResult:
    inputs = processor(images=image, text=question, return_tensors="pt", truncation=True)
    joint = vilt.forward(vilt_model, inputs)  # attentions (L, heads, S, S); the patch order kept
    scores = torch.sigmoid(joint.logits)
    top = torch.topk(scores, k=min(5, scores.shape[0]))
    text_tokens = processor.tokenizer.convert_ids_to_tokens(inputs.input_ids[0])
    tokens = text_tokens + ["[IMG]"] + [f"p({r},{c})" for r, c in joint.patch_positions]
    return FusionResult(
        question=question,
        tokens=tokens,
        n_text=len(text_tokens),
        n_image=joint.n_image,
        attentions=joint.attentions,
        patch_positions=joint.patch_positions,
        patches=PatchGrid(model_image(inputs.pixel_values, processor.image_processor), vilt.patch_size(vilt_model),
                          *joint.grid),
        top_answers=[(vilt_model.config.id2label[i], float(s)) for s, i in zip(top.values, top.indices.tolist())],
    )
