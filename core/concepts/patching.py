"""Patching: how a Vision Transformer turns an image into a sequence of patch vectors, and what CLS attends to.

The CLIP vision tower resizes the image to a square, cuts it into P x P patches (an R x C grid, N = R*C of them),
projects each patch to a vector, and prepends a CLS token: N + 1 tokens. `patch_view` returns exactly what the
model received and the CLS row of every layer's self-attention. `photo_patch_view` does the same with DINOv2
ViT-S/14 (real weights, 14 px patches, 224 or 448 px), the default for photos: the same view, so every section of
the page reads both.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from core.analysis.cost import Cost
from core.attention import select
from core.attention.maps import AttentionMaps
from core.attention.patch_grid import PatchGrid
from core.attention.rollout import mean_attention_distance, rollout
from core.models import clip, dinov2


@dataclass
class PatchView:
    """What the vision tower saw and where its CLS token looked.

    patches: the model's image (the processor's output with normalisation undone) cut into rows x cols patches.
    attentions: (layers, heads, 1 + n_patches, 1 + n_patches); token 0 is CLS, then patches in reading order.
    """

    patches: PatchGrid
    attentions: np.ndarray
    patch_vectors: np.ndarray  # (n_patches, d): each patch after the linear projection, before positions
    position_embeddings: np.ndarray  # (n_patches, d): the learned position of each patch (CLS's left out)
    features: np.ndarray | None = None  # (n_patches, d): the last layer's patch outputs (DINOv2 views only)
    cost: Cost | None = field(default=None, compare=False)  # what computing it cost; set where it ran
    # what the page redraws on every rerun from these arrays, computed once per view (it is shared, read-only)
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _once(self, key, compute):
        if key not in self._memo:
            value = compute()
            value.setflags(write=False)  # shared by every session that shows this view
            self._memo[key] = value
        return self._memo[key]

    @property
    def grid(self) -> tuple[int, int]:
        return self.patches.shape

    @property
    def n_patches(self) -> int:
        return self.patches.n_patches

    def similar_patches(self, index: int) -> np.ndarray:
        """(rows, cols) cosine similarity of every patch vector to the chosen one."""
        v = self.patch_vectors / np.linalg.norm(self.patch_vectors, axis=1, keepdims=True)
        return (v @ v[index]).reshape(self.grid)

    def pca_rgb(self) -> np.ndarray:
        """(rows, cols, 3) uint8: the top 3 principal components of the patch vectors as colours."""
        return self._once("pca", self._principal_colours)

    def feature_rgb(self) -> np.ndarray | None:
        """(rows, cols, 3) float in [0, 1]: the last layer's patch features on their top 3 principal components
        (patches of one object get one colour, with no label ever seen), or None when the view has no features."""
        if self.features is None:
            return None
        from core.concepts.photo_patches import pca_rgb

        return self._once("feature_pca", lambda: pca_rgb(self.features, self.grid))

    def rollout_into_cls(self, head_fusion: str, discard_ratio: float) -> np.ndarray:
        """(n_patches,): attention rollout over all layers, how much each patch flows into the final CLS."""
        return self._once(("rollout", head_fusion, discard_ratio),
                          lambda: clip.IMAGE_TOKENS.patches(
                              rollout(self.attentions, head_fusion, discard_ratio)[clip.IMAGE_TOKENS.cls_index]))

    def attention_distance(self) -> np.ndarray:
        """(layers, heads): mean attention distance in pixels (core.attention.rollout.mean_attention_distance)."""
        return self._once("distance", lambda: mean_attention_distance(
            clip.IMAGE_TOKENS.patches(clip.IMAGE_TOKENS.patches(self.attentions, axis=-2)), self.patches))

    def _principal_colours(self) -> np.ndarray:
        centred = self.patch_vectors - self.patch_vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        coords = centred @ vt[:3].T  # (N, 3)
        lo, hi = coords.min(axis=0), coords.max(axis=0)
        rgb = (coords - lo) / np.where(hi > lo, hi - lo, 1)
        return (rgb * 255).round().astype(np.uint8).reshape(*self.grid, 3)

    def position_similarity(self, block: int = 1) -> np.ndarray:
        """(R * R, C * C) with R, C = rows, cols // block: tile (r, c) is the cosine similarity of position (r, c) to
        every position, laid out as a grid of small grids (the learned 2-D structure). block > 1 averages block x block
        positions on both sides (DINOv2 at 448 px: 32 x 32 positions are a million cells; 16 x 16 blocks of 2 x 2)."""
        rows, cols = self.grid
        if rows % block or cols % block:
            raise ValueError(f"a {rows}x{cols} grid does not split into {block}x{block} blocks")
        e = self.position_embeddings / np.linalg.norm(self.position_embeddings, axis=1, keepdims=True)
        r, c = rows // block, cols // block
        sim = (e @ e.T).reshape(r, block, c, block, r, block, c, block).mean(axis=(1, 3, 5, 7))  # (qr, qc, kr, kc)
        return sim.transpose(0, 2, 1, 3).reshape(r * r, c * c)

    @property
    def cls_attention(self) -> np.ndarray:
        """(layers, heads, n_patches): how much CLS attends to each patch."""
        return clip.IMAGE_TOKENS.patches(self.attentions[:, :, clip.IMAGE_TOKENS.cls_index])

    def cls_maps(self) -> AttentionMaps:
        """CLS's attention on the patches as maps with one query, for the explorer."""
        return AttentionMaps(self.cls_attention[:, :, None], ["CLS"], self.patches)

    def cls_to_patches(self, layer, head) -> np.ndarray:
        """(rows, cols): where CLS looks in one layer (or LAYER_MEAN) and head (or HEAD_MEAN / HEAD_MAX)."""
        row = select(self.attentions, layer, head)[clip.IMAGE_TOKENS.cls_index]  # (1 + N,)
        return self.patches.on_grid(clip.IMAGE_TOKENS.patches(row))

    def patch_to_patches(self, patch: int, layer, head) -> np.ndarray:
        """(rows, cols): where patch `patch` (reading order) looks, CLS left out."""
        row = select(self.attentions, layer, head)[clip.IMAGE_TOKENS.patch_token(patch)]  # (1 + N,)
        return self.patches.on_grid(clip.IMAGE_TOKENS.patches(row))


def model_image(pixel_values: torch.Tensor, image_processor) -> np.ndarray:
    """Undo the processor's normalisation: (1, 3, H, W) float -> (H, W, 3) uint8."""
    mean = np.asarray(image_processor.image_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(image_processor.image_std, dtype=np.float32)[:, None, None]
    pixels = pixel_values[0].float().numpy() * std + mean  # (3, H, W) in [0, 1]
    return (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)


def model_patches(pixel_values: torch.Tensor, image_processor, patch_size: int) -> PatchGrid:
    """The patch grid of what the model saw: `model_image` cut into patch_size squares."""
    return PatchGrid.of(model_image(pixel_values, image_processor), patch_size)


@torch.inference_mode()
def patch_view(clip_model, processor, image: Image.Image) -> PatchView:
    pixel_values = processor(images=image, return_tensors="pt").pixel_values  # (1, 3, H, W)
    attentions = clip.vision_attentions(clip.vision(clip_model, pixel_values, attentions=True))  # (L, H, 1+N, 1+N)
    rows, cols = clip.grid(clip_model, pixel_values)
    if attentions.shape[-1] != rows * cols + clip.IMAGE_TOKENS.n_prefix:
        raise RuntimeError(f"{attentions.shape[-1]} vision tokens for a {rows}x{cols} grid plus CLS")
    return PatchView(model_patches(pixel_values, processor.image_processor, clip.patch_size(clip_model)), attentions,
                     clip.patch_vectors(clip_model, pixel_values).float().numpy(),
                     clip.position_embeddings(clip_model))  # (N, d) each; positions: a copy, see its docstring


@torch.inference_mode()
def photo_patch_view(dino_model, processor, image: Image.Image, side: int = dinov2.DEFAULT_RESOLUTION) -> PatchView:
    """DINOv2 on the photo's centre square at `side` px (224: 16 x 16 patches, 448: 32 x 32; core/models/dinov2.py)."""
    p = dinov2.patch_size(dino_model)
    pixels_in = dinov2.model_image(image, side, p)  # (side, side, 3) uint8: what the model sees
    pixels = dinov2.pixel_values(pixels_in, processor)  # (1, 3, side, side)
    out = dinov2.forward(dino_model, pixels, attentions=True)  # attentions (L, H, 1+N, 1+N)
    return PatchView(PatchGrid(pixels_in, p, *out.grid), out.attentions,
                     dinov2.patch_vectors(dino_model, pixels).float().numpy(),  # (N, d)
                     dinov2.position_embeddings(dino_model, pixels),  # (N, d)
                     features=dinov2.IMAGE_TOKENS.patches(out.last_hidden_state, axis=0).copy())  # (N, d)
