"""DINOv2's internals, in one place: how a photo becomes its input, which output, where the CLS token is.

Dinov2Model (ViT-S/14 here, from core/models/dinov2_onnx.py): tokens are [CLS, patch 0, ..., patch N-1] in reading
order. This checkpoint has no register tokens (DINOv2 "with registers" would put 4 of them between CLS and the
patches: its own ImageTokens(cls_index=0, n_prefix=5)). Position embeddings are stored for a 37 x 37 grid (518 px)
and interpolated (bicubic) to whatever grid comes in, so any multiple of 14 works.

Resolution: the app feeds a SQUARE image, side 224 (16 x 16 = 256 patches) or 448 (32 x 32 = 1024 patches): a
centre crop of the photo's largest square, resized (bicubic) to the side. Why square and not "keep the aspect":
the page's grid stays a known square, and the cost stays bounded (the attention weights grow with the square of
the token count: at 448 px, 12 x 6 x 1025 x 1025 fp32 is already 300 MB; a 3:2 photo kept whole would be 1537
tokens and 680 MB). The crop is what DINOv2's and CLIP's own processors do too; the page shows the model image, so
the user sees what was cut. The folder's processor gives only the mean/std (ImageNet); the resize is ours so the
grid is known before the forward.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.attention import stack_attentions
from core.models.tokens import CLS_THEN_PATCHES

IMAGE_TOKENS = CLS_THEN_PATCHES
RESOLUTIONS = (224, 448)  # model-image sides in pixels: 16 x 16 and 32 x 32 patches
DEFAULT_RESOLUTION = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the fallback when a processor carries none
IMAGENET_STD = (0.229, 0.224, 0.225)


def patch_size(model) -> int:
    """P in pixels (14)."""
    return model.config.patch_size


def grid(model, pixel_values: torch.Tensor) -> tuple[int, int]:
    """(rows, cols) of P x P patches for a (B, 3, H, W) batch: 224 px -> 16 x 16, 448 px -> 32 x 32."""
    p = patch_size(model)
    return pixel_values.shape[2] // p, pixel_values.shape[3] // p


def square_crop(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in the photo's pixels: the centred square of side min(width, height)."""
    width, height = size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def model_image(image: Image.Image, side: int = DEFAULT_RESOLUTION, patch: int = 14) -> np.ndarray:
    """(side, side, 3) uint8: the photo's centre square resized (bicubic) to `side`, exactly what the model sees."""
    if side % patch:
        raise ValueError(f"the side {side} px is not a multiple of the {patch} px patch")
    rgb = image.convert("RGB")
    return np.asarray(rgb.resize((side, side), Image.Resampling.BICUBIC, box=square_crop(rgb.size)))


def normalisation(processor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel from the folder's image processor (or its `.image_processor`), else ImageNet's."""
    processor = getattr(processor, "image_processor", processor)
    mean = getattr(processor, "image_mean", None) or IMAGENET_MEAN
    std = getattr(processor, "image_std", None) or IMAGENET_STD
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def pixel_values(image: np.ndarray, processor=None) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32: rescaled to [0, 1] and normalised with the processor's mean/std."""
    mean, std = normalisation(processor)
    x = image.astype(np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)  # (H, W, 3)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]  # (1, 3, H, W)


@dataclass(frozen=True)
class DinoForward:
    """One forward of the backbone for one image.

    attentions: (layers, heads, 1 + N, 1 + N) float32, token 0 is CLS, then the N patches row-major; each row sums
        to 1 over the keys. None when not asked for.
    last_hidden_state: (1 + N, d) float32, after the final LayerNorm (d = 384 for ViT-S).
    grid: (rows, cols), rows * cols = N.
    """

    attentions: np.ndarray | None
    last_hidden_state: np.ndarray
    grid: tuple[int, int]


@torch.inference_mode()
def forward(model, pixels: torch.Tensor, attentions: bool = True) -> DinoForward:
    """Run the backbone (load it with attn_implementation="eager" when `attentions`: SDPA returns none)."""
    out = model(pixel_values=pixels, output_attentions=attentions)
    hidden = out.last_hidden_state[0].float().numpy().copy()  # (1 + N, d)
    layers = list(out.attentions) if attentions else None
    del out  # from here the list holds the only reference to each layer's tensor: stacking frees them one by one
    weights = stack_attentions(layers, release=True) if attentions else None  # (L, H, 1+N, 1+N)
    return DinoForward(weights, hidden, grid(model, pixels))


def full_size_processor():
    """DINOv2's image processor (ImageNet mean/std), for random-weight full-size builds."""
    from core.models.dinov2_onnx import image_processor

    return image_processor()


def patch_vectors(model, pixels: torch.Tensor) -> torch.Tensor:
    """(N, d): each patch of the first image after the linear projection (a 14 x 14 conv), before positions."""
    return model.embeddings.patch_embeddings(pixels)[0]


def position_embeddings(model, pixels: torch.Tensor) -> np.ndarray:
    """(N, d): the position added to each patch at this input size. Stored for a 37 x 37 grid (518 px) and
    interpolated bicubically to the input's grid, exactly as the forward does; the CLS row left out. A copy."""
    n_patches = int(np.prod(grid(model, pixels)))
    placeholder = torch.zeros(1, IMAGE_TOKENS.n_prefix + n_patches, model.config.hidden_size)  # only its shape is read
    table = model.embeddings.interpolate_pos_encoding(placeholder, pixels.shape[2], pixels.shape[3])[0]  # (1 + N, d)
    return IMAGE_TOKENS.patches(table.detach().float().numpy(), axis=0).copy()
