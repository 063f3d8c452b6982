"""CLIP space: contrastive training maps an image and its caption to nearby points of one space.

`embed` runs images and captions through CLIP's two towers and their projections; the unit-length embeddings and
their cosine similarities are what the page draws (core/concepts/projections.py flattens them to 2-D or 3-D).
`nearest` ranks every item by cosine to one of them; `patch_text_similarity` pushes each patch token through the
image projection too, which CLIP was never trained to make meaningful (the page says so).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from PIL import Image

from core.analysis.cost import Cost, counted, measured, timed
from core.attention.patch_grid import PatchGrid
from core.concepts.patching import model_patches
from core.models import clip


@dataclass
class ClipSpace:
    """image_embeds: (I, D) and text_embeds: (T, D), unit length; logit_scale: CLIP's learned 1/temperature.

    The first image's patch tokens come along for the text -> patch probe, so it needs no forward of its own:
    first_patch_embeds: (rows, cols, D), each patch token through the CLS path's LayerNorm and projection, unit
    length; first_patches: what the vision tower saw of it, in patches."""

    image_names: list[str]
    texts: list[str]
    image_embeds: np.ndarray
    text_embeds: np.ndarray
    logit_scale: float
    first_patch_embeds: np.ndarray
    first_patches: PatchGrid
    cost: Cost | None = field(default=None, compare=False)  # what computing it cost (embed sets it)

    @property
    def similarity(self) -> np.ndarray:
        """(I, T) cosine similarity of every image with every caption."""
        return self.image_embeds @ self.text_embeds.T

    @property
    def logits(self) -> np.ndarray:
        """(I, T) what CLIP's softmax sees: cosine x logit_scale."""
        return self.similarity * self.logit_scale


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


@torch.inference_mode()
def embed(clip_model, processor, images: list[Image.Image], image_names: list[str], texts: list[str]) -> ClipSpace:
    """One pass of each tower, as CLIPModel.forward does it, keeping the first image's patch tokens too. The space
    carries its Cost: this call timed, FLOPs and attention weights counted once per input shapes."""
    if not images or not texts:
        raise ValueError("CLIP space needs at least one image and one caption")
    inputs, prepare_s = timed(
        lambda: processor(images=images, text=texts, return_tensors="pt", padding=True, truncation=True))
    space, forward_s = timed(lambda: _embed(clip_model, processor, inputs, image_names, texts))
    count = counted(clip_model, ("clip space", *inputs.pixel_values.shape, *inputs.input_ids.shape),
                    lambda: _embed(clip_model, processor, inputs, image_names, texts))
    rows, cols = space.first_patches.shape
    per_image = rows * cols + clip.IMAGE_TOKENS.n_prefix
    return replace(space, cost=measured(
        int(inputs.attention_mask.sum()), len(images) * per_image, "image tokens", count, prepare_s + forward_s,
        detail=f"{len(images)} x ({rows * cols} patches + CLS); {len(texts)} captions"))


def _embed(clip_model, processor, inputs, image_names: list[str], texts: list[str]) -> ClipSpace:
    vision = clip.vision(clip_model, inputs.pixel_values)
    image_embeds = _unit(clip.image_embeds(clip_model, vision))  # (I, D): pooled CLS, post-LayerNorm
    patches = _unit(clip.patch_embeds(clip_model, vision, 0))  # (N, D): the first image's patch tokens
    text_embeds = _unit(clip.text_embeds(clip_model, inputs.input_ids, inputs.attention_mask))  # (T, D)
    side = round(patches.shape[0] ** 0.5)
    if side * side != patches.shape[0]:
        raise ValueError(f"expected a square patch grid, got {patches.shape[0]} patches")
    return ClipSpace(
        image_names=list(image_names),
        texts=list(texts),
        image_embeds=image_embeds.float().numpy(),
        text_embeds=text_embeds.float().numpy(),
        logit_scale=clip.logit_scale(clip_model),
        first_patch_embeds=patches.float().numpy().reshape(side, side, -1),
        first_patches=model_patches(inputs.pixel_values[:1], processor.image_processor, clip.patch_size(clip_model)),
    )


@dataclass
class Neighbour:
    kind: str  # "image" or "caption"
    index: int  # into image_names or texts
    label: str
    cosine: float


def nearest(space: ClipSpace, kind: str, index: int, k: int = 5) -> list[Neighbour]:
    """The k items (images and captions together) closest to one item by cosine in the full D-dim space, itself
    left out. Measured in the space, not in a 2-D projection, which bends distances."""
    query = (space.image_embeds if kind == "image" else space.text_embeds)[index]  # (D,)
    candidates = [("image", i, name, float(e @ query)) for i, (name, e) in
                  enumerate(zip(space.image_names, space.image_embeds))]
    candidates += [("caption", t, text, float(e @ query)) for t, (text, e) in
                   enumerate(zip(space.texts, space.text_embeds))]
    candidates = [c for c in candidates if (c[0], c[1]) != (kind, index)]
    candidates.sort(key=lambda c: -c[3])
    return [Neighbour(*c) for c in candidates[:k]]


@dataclass
class PatchTextSimilarity:
    """cosine: (rows, cols), each patch token's projected embedding against the text embedding;
    cls_cosine: the same for the pooled CLS token (the image embedding CLIP was trained on);
    patches: what the vision tower saw, in the same rows x cols patches."""

    text: str
    cosine: np.ndarray
    cls_cosine: float
    patches: PatchGrid


def patch_text_similarity_in(space: ClipSpace, caption: int) -> PatchTextSimilarity:
    """The probe for the space's first image and one of its captions, from what `embed` already computed."""
    text_embed = space.text_embeds[caption]  # (D,)
    return PatchTextSimilarity(space.texts[caption], space.first_patch_embeds @ text_embed,
                               float(space.image_embeds[0] @ text_embed), space.first_patches)


def patch_text_similarity(clip_model, processor, image: Image.Image, text: str) -> PatchTextSimilarity:
    """Every patch token of the last vision layer through the same post-LayerNorm and projection as CLS, then
    cosine with the caption's embedding. CLIP's loss only ever saw the CLS path, so this map is a probe, not a
    trained output: expect it to be noisy."""
    return patch_text_similarity_in(embed(clip_model, processor, [image], ["image"], [text]), 0)
