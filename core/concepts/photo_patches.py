"""Patching on real photos: what a self-supervised ViT (DINOv2 ViT-S/14) does with the patches of a photo.

One forward of the backbone with attentions gives everything the Patching page shows for a photo:
- where the CLS token looks in every layer and head (DINOv2's last layer picks out the main object with no label
  ever seen: "emerging properties in self-supervised ViTs");
- rollout: how much each input patch flows into the final CLS through all layers;
- a PCA of the last layer's patch features to three colours: patches of the same object get the same colour;
- `box_share`: how much of an attention map falls inside a box, next to the box's share of the image (the baseline a
  uniform map would reach), with preset boxes for the sample photos.

Measured with the real weights (last layer, mean of heads; share inside the preset box vs the box's area share in the
square model image; tests/core/concepts/test_photo_patches.py checks share > area): at 224 px cup 0.73 vs 0.44, person 0.80 vs
0.65, face 0.17 vs 0.10, rocket 0.20 vs 0.08; at 448 px cup 0.80 vs 0.44, person 0.83 vs 0.65, face 0.25 vs 0.10,
rocket 0.24 vs 0.08. (DESIGN.md's 0.92 vs 0.63 for the cup used the whole 3:2 photo and a cup-and-saucer box.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.attention.patch_grid import Box, PatchGrid
from core.attention.rollout import rollout as attention_rollout
from core.models import dinov2


@dataclass(frozen=True)
class PresetBox:
    """A rough box around the object of a sample photo, relative to the WHOLE photo (0..1, before any crop), so it
    survives resizing; `PhotoPatches.box_in_model` maps it into model-image pixels."""

    label: str
    box: Box


# skimage.data sample photos (offline; coffee CC0, astronaut NASA public domain, rocket SpaceX public domain, per
# skimage's docstrings); boxes drawn by eye on the originals
PRESET_BOXES: dict[str, PresetBox] = {
    "coffee": PresetBox("the cup", (0.285, 0.045, 0.685, 0.77)),  # 600 x 400: cup with handle, saucer left out
    "astronaut": PresetBox("the person", (0.04, 0.03, 0.71, 1.0)),  # 512 x 512: hair to suit, helmet left out
    "rocket": PresetBox("the rocket", (0.46, 0.29, 0.54, 0.96)),  # 640 x 427: nose cone to the pad
}
FACE_BOX = PresetBox("the face", (0.29, 0.03, 0.59, 0.37))  # astronaut: head with hair


@dataclass(frozen=True)
class PhotoPatches:
    """What DINOv2 saw of one photo and where its CLS token looked. Arrays are read-only (shared by the cache).

    patches: the centre square resized (exactly the pixels fed, before normalising), in P = 14 px patches, N of them.
    crop: (left, top, right, bottom) of that square in the original photo's pixels; photo_size: (width, height).
    cls_attention: (layers, heads, N) the CLS query's weights on each patch key, row-major.
    cls_self: (layers, heads) the CLS query's weight on itself: cls_self + cls_attention.sum(-1) == 1.
    rollout: (N,) attention rollout (mean of heads, no discard) from each input patch into the final CLS; the CLS
        column is left out, so it sums to less than 1.
    pca_rgb: (rows, cols, 3) float32 in [0, 1], the last layer's patch features on their top 3 principal components.
    """

    patches: PatchGrid
    crop: tuple[int, int, int, int]
    photo_size: tuple[int, int]
    cls_attention: np.ndarray
    cls_self: np.ndarray
    rollout: np.ndarray
    pca_rgb: np.ndarray

    @property
    def grid(self) -> tuple[int, int]:
        return self.patches.shape

    def last_layer_mean(self) -> np.ndarray:
        """(N,) the last layer's CLS attention, mean of the heads."""
        return self.cls_attention[-1].mean(axis=0)

    def box_in_model(self, relative_box: Box) -> Box:
        """A box relative to the whole photo (0..1) -> model-image pixels, clipped to what the crop kept."""
        return box_in_model(relative_box, self.photo_size, self.patches.image.shape[0])


def box_in_model(relative_box: Box, photo_size: tuple[int, int], side: int) -> Box:
    """A box relative to the whole photo (0..1) -> pixels of the side x side model image (the photo's centre square,
    core/models/dinov2.py), clipped to what the crop kept."""
    width, height = photo_size
    left, top, right, _ = dinov2.square_crop(photo_size)
    scale = side / (right - left)
    x0, y0, x1, y1 = relative_box
    xs = [min(max((x * width - left) * scale, 0.0), float(side)) for x in (x0, x1)]
    ys = [min(max((y * height - top) * scale, 0.0), float(side)) for y in (y0, y1)]
    return xs[0], ys[0], xs[1], ys[1]


def layer_box_shares(cls_attention: np.ndarray, patches: PatchGrid, box: Box) -> tuple[np.ndarray, float]:
    """cls_attention: (layers, heads, N) -> ((layers,) share of CLS's attention, mean over heads, inside the box in
    each layer; the box's area share)."""
    mean = cls_attention.mean(axis=1)  # (L, N)
    shares = [box_share(row, patches, box)[0] for row in mean]
    return np.asarray(shares, dtype=np.float32), box_share(mean[0], patches, box)[1]


def box_share(attention: np.ndarray, patches: PatchGrid, box: Box) -> tuple[float, float]:
    """(share of the attention inside the box, the box's share of the image area), box in model-image pixels.

    attention: (N,) non-negative weights over the patches, row-major (need not sum to 1: it is renormalised).
    A patch the box cuts counts by the fraction of its area inside, so a box on the image's edges gives (1, 1) and a
    uniform map gives share == area share: the baseline a map must beat to say "it looks at the object".
    """
    if attention.shape != (patches.n_patches,):
        raise ValueError(f"{attention.shape} weights do not fill a {patches.rows}x{patches.cols} grid")
    inside = patches.inside(box)  # (N,) fraction of each patch in the box
    total = float(attention.sum())
    share = float((attention * inside).sum() / total) if total > 0 else 0.0
    return share, float(inside.mean())


def pca_rgb(features: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(N, d) patch features -> (rows, cols, 3) float32 in [0, 1]: the top 3 principal components (numpy SVD of the
    centred features), each stretched between its 1st and 99th percentile. Signs are fixed (largest loading
    positive) so the same photo always gets the same colours."""
    x = features.astype(np.float64)
    centred = x - x.mean(axis=0)  # (N, d)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # vt: (min(N, d), d)
    components = vt[:3] * np.sign(vt[:3][np.arange(3), np.abs(vt[:3]).argmax(axis=1)])[:, None]  # (3, d)
    coords = centred @ components.T  # (N, 3)
    lo, hi = np.percentile(coords, 1, axis=0), np.percentile(coords, 99, axis=0)
    rgb = np.clip((coords - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    return rgb.reshape(*grid, 3).astype(np.float32)


def photo_patches(model, processor, image: Image.Image, side: int = dinov2.DEFAULT_RESOLUTION) -> PhotoPatches:
    """One DINOv2 forward (eager attention) on the photo's centre square at `side` px (224 or 448, see
    core/models/dinov2.py) -> everything the page draws. The full attention stack is dropped after use: at 448 px
    it is 300 MB, the result is < 1 MB."""
    p = dinov2.patch_size(model)
    pixels_in = dinov2.model_image(image, side, p)  # (side, side, 3)
    out = dinov2.forward(model, dinov2.pixel_values(pixels_in, processor), attentions=True)
    tokens = dinov2.IMAGE_TOKENS
    cls_row = out.attentions[:, :, tokens.cls_index]  # (L, H, 1 + N)
    flow = attention_rollout(out.attentions)[tokens.cls_index]  # (1 + N,)
    features = tokens.patches(out.last_hidden_state, axis=0)  # (N, d)
    pixels_in.setflags(write=False)
    result = PhotoPatches(
        patches=PatchGrid(pixels_in, p, *out.grid), crop=dinov2.square_crop(image.size), photo_size=tuple(image.size),
        cls_attention=tokens.patches(cls_row).copy(), cls_self=cls_row[..., tokens.cls_index].copy(),
        rollout=tokens.patches(flow).astype(np.float32), pca_rgb=pca_rgb(features, out.grid))
    for array in (result.cls_attention, result.cls_self, result.rollout, result.pca_rgb):
        array.setflags(write=False)
    return result
