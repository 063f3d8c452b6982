"""CLIP space: contrastive training maps an image and its caption to nearby points of one space.

`embed` runs images and captions through CLIP's two towers and their projections; the unit-length embeddings,
their cosine similarities and a 2-D PCA of both modalities together are what the page draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image


@dataclass
class ClipSpace:
    """image_embeds: (I, D) and text_embeds: (T, D), unit length; logit_scale: CLIP's learned 1/temperature."""

    image_names: list[str]
    texts: list[str]
    image_embeds: np.ndarray
    text_embeds: np.ndarray
    logit_scale: float

    @property
    def similarity(self) -> np.ndarray:
        """(I, T) cosine similarity of every image with every caption."""
        return self.image_embeds @ self.text_embeds.T

    @property
    def logits(self) -> np.ndarray:
        """(I, T) what CLIP's softmax sees: cosine x logit_scale."""
        return self.similarity * self.logit_scale


def pca(points: np.ndarray, k: int = 2) -> np.ndarray:
    """(N, D) -> (N, k): coordinates along the top-k principal directions (SVD of the centred points)."""
    centred = points - points.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # vt: (min(N, D), D)
    components = vt[:k]
    if components.shape[0] < k:  # fewer points than k: pad with zero directions
        components = np.vstack([components, np.zeros((k - components.shape[0], points.shape[1]))])
    return centred @ components.T


@torch.inference_mode()
def embed(clip_model, processor, images: list[Image.Image], image_names: list[str], texts: list[str]) -> ClipSpace:
    if not images or not texts:
        raise ValueError("CLIP space needs at least one image and one caption")
    inputs = processor(images=images, text=texts, return_tensors="pt", padding=True, truncation=True)
    out = clip_model(**inputs)
    return ClipSpace(
        image_names=list(image_names),
        texts=list(texts),
        image_embeds=out.image_embeds.float().numpy(),  # (I, D), already unit length
        text_embeds=out.text_embeds.float().numpy(),  # (T, D)
        logit_scale=float(clip_model.logit_scale.exp()),
    )
