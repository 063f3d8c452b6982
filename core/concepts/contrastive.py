"""The contrastive objective that shapes CLIP space, and the modality gap it leaves.

InfoNCE over a batch of matched (image_i, caption_i) pairs with unit embeddings and temperature tau:
    logits = (I T^T) / tau                                   (B, B), the diagonal holds the matched pairs
    loss_image = cross_entropy(logits, diag)                  each image must pick its own caption
    loss_text  = cross_entropy(logits^T, diag)                each caption must pick its own image
    loss = (loss_image + loss_text) / 2                       CLIP's symmetric loss; CLIP learns 1/tau (logit_scale)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _cross_entropy_diagonal(logits: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(np.diag(log_softmax)))


@dataclass
class InfoNCE:
    image_to_text: float
    text_to_image: float

    @property
    def loss(self) -> float:
        return (self.image_to_text + self.text_to_image) / 2


def info_nce(image_embeds: np.ndarray, text_embeds: np.ndarray, temperature: float) -> InfoNCE:
    """image_embeds, text_embeds: (B, D) unit vectors, row i of each a matched pair."""
    if image_embeds.shape != text_embeds.shape:
        raise ValueError(f"InfoNCE needs matched pairs: {image_embeds.shape} images vs {text_embeds.shape} captions")
    logits = image_embeds.astype(np.float64) @ text_embeds.T.astype(np.float64) / temperature  # (B, B)
    return InfoNCE(_cross_entropy_diagonal(logits), _cross_entropy_diagonal(logits.T))


def modality_gap(image_embeds: np.ndarray, text_embeds: np.ndarray) -> float:
    """Distance between the centroid of the image embeddings and the centroid of the text embeddings."""
    return float(np.linalg.norm(image_embeds.mean(axis=0) - text_embeds.mean(axis=0)))


def centre_each_modality(image_embeds: np.ndarray, text_embeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtract each modality's own centroid: what is left is where items sit relative to their own kind."""
    return image_embeds - image_embeds.mean(axis=0), text_embeds - text_embeds.mean(axis=0)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def matched_accuracy(image_embeds: np.ndarray, text_embeds: np.ndarray, labels: np.ndarray,
                     centred: bool = False) -> float:
    """Share of images whose nearest text (cosine) is their own: text labels[i] for image i. centred: each modality's
    centroid subtracted first (over the images and texts given), then back to unit length, the gap closed."""
    if centred:
        image_embeds, text_embeds = centre_each_modality(image_embeds, text_embeds)
    nearest = (_unit(image_embeds) @ _unit(text_embeds).T).argmax(axis=1)
    return float((nearest == np.asarray(labels)).mean())
