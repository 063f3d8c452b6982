"""Patching: how a Vision Transformer turns an image into a sequence of patch vectors, and what CLS attends to.

The CLIP vision tower resizes the image to a square, cuts it into P x P patches (an R x C grid, N = R*C of them),
projects each patch to a vector, and prepends a CLS token: N + 1 tokens. `patch_view` returns exactly what the
model received and the CLS row of every layer's self-attention.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.attention import stack_attentions


@dataclass
class PatchView:
    """What the vision tower saw and where its CLS token looked.

    model_image: (H, W, 3) uint8, the processor's output with normalisation undone.
    patch_size: P in pixels.
    grid: (rows, cols) of patches; rows * cols = n_patches.
    attentions: (layers, heads, 1 + n_patches, 1 + n_patches); token 0 is CLS, then patches in reading order.
    """

    model_image: np.ndarray
    patch_size: int
    grid: tuple[int, int]
    attentions: np.ndarray

    @property
    def n_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def cls_attention(self) -> np.ndarray:
        """(layers, heads, n_patches): how much CLS attends to each patch."""
        return self.attentions[:, :, 0, 1:]


def patch_at(x: float, y: float, width: float, height: float, grid: tuple[int, int]) -> int:
    """The row-major index of the patch under a click at (x, y) on the image shown width x height pixels."""
    rows, cols = grid
    r = min(rows - 1, max(0, int(y * rows / height)))
    c = min(cols - 1, max(0, int(x * cols / width)))
    return r * cols + c


def model_image(pixel_values: torch.Tensor, image_processor) -> np.ndarray:
    """Undo the processor's normalisation: (1, 3, H, W) float -> (H, W, 3) uint8."""
    mean = np.asarray(image_processor.image_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(image_processor.image_std, dtype=np.float32)[:, None, None]
    pixels = pixel_values[0].float().numpy() * std + mean  # (3, H, W) in [0, 1]
    return (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)


@torch.inference_mode()
def patch_view(clip_model, processor, image: Image.Image) -> PatchView:
    pixel_values = processor(images=image, return_tensors="pt").pixel_values  # (1, 3, H, W)
    out = clip_model.vision_model(pixel_values=pixel_values, output_attentions=True)
    attentions = stack_attentions(out.attentions)  # (L, heads, 1 + N, 1 + N)
    patch = clip_model.config.vision_config.patch_size
    rows, cols = pixel_values.shape[2] // patch, pixel_values.shape[3] // patch
    if attentions.shape[-1] != rows * cols + 1:
        raise RuntimeError(f"{attentions.shape[-1]} vision tokens for a {rows}x{cols} grid plus CLS")
    return PatchView(model_image(pixel_values, processor.image_processor), patch, (rows, cols), attentions)
