"""The four explanation methods (core/analysis/relevancy.py) for a ViT's CLS token, on the Patching page.

A vision tower is one self-attention stream over [CLS, patch 0, ..., patch N-1] (row-major); its read-out is the
CLS token of the last layer. Each method gives one score per patch, read at the CLS row with the CLS column dropped
(IMAGE_TOKENS.patches):

- raw: CLS's attention on the patches in one layer and head (or a mean): the page's own CLS map
  (PatchView.cls_to_patches).
- rollout: Abnar & Zuidema over every layer (core.attention.rollout: prod_l rownorm(0.5 Abar_l + 0.5 I), heads
  averaged, nothing discarded), the CLS row: the page's rollout section at its defaults. No gradient.
- grad_x_attention: Grad-CAM on one layer's attention (last by default): E_h[(dA/dy * A)^+] (Chefer's eq. 5), CLS row.
- chefer: Chefer, Gur & Wolf 2021's rule for a single self-attention stream (relevancy.joint_relevancy:
  R = I, R += Abar_l R for every layer), the CLS row. Only that row is needed, so `cls_relevancy` carries the row
  alone (r = e_CLS, then r += r Abar_l from the last layer down: O(L S^2), not O(L S^3); at DINOv2's 448 px, S = 1025),
  the same numbers as joint_relevancy's row 0 (tests/core/analysis/test_relevancy_vision.py).

The target y the gradients are taken of:

- CLIP (the bundled tiny tower on shapes scenes, B/32 or B/16 from the hub): the image-text logit
  logit_scale * cos(image_embed, text_embed) of the best-matching prompt among those given (`explain_clip`). The
  caller chooses the prompts (components/service/vision_explanations.py): the 18 colour x shape class prompts
  (shapes_world.class_prompts) on shapes scenes and for the bundled tower, whatever the image; on photos with a hub
  CLIP, the sidebar's text read as a caption (as CLIP space reads it), and no gradient methods when it is empty.
- DINOv2 (`explain_dino`): self-supervised, no text, no label, so there is no decision to explain. y = the norm of
  the final CLS output (after the last LayerNorm), i.e. its projection onto its own (fixed) direction:
  dy/dA = u^T dh_CLS/dA with u = h_CLS / |h_CLS|. The gradient methods then answer "which attention made the CLS
  vector larger along the direction it already points", which is what a k-NN or linear probe on that vector reads
  more of, but not a decision: the section says so under the figures. We keep it rather than showing raw and rollout
  alone because the map is well defined, finite and differs from the attention-only methods, and a student comparing
  the four columns on a photo learns exactly the point of the issue: a gradient method is only as meaningful as its
  target.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.analysis.relevancy import attention_gradients, head_cam, layer_cam
from core.attention import HEAD_MEAN, select
from core.attention.patch_grid import PatchGrid
from core.attention.rollout import rollout
from core.concepts.patching import model_patches
from core.models import clip, dinov2

IMAGE_TOKENS = clip.IMAGE_TOKENS  # CLS at 0, then the patches row-major: CLIP and DINOv2 (no registers) alike
CLS = IMAGE_TOKENS.cls_index


def cls_relevancy(attentions: np.ndarray, gradients: np.ndarray, token: int = CLS) -> np.ndarray:
    """Row `token` of relevancy.joint_relevancy without the (S, S) products: (L, H, S, S) attentions and their
    gradients -> (S,). R = (I + Abar_L) ... (I + Abar_1), so its row t is e_t (I + Abar_L) ... (I + Abar_1):
    start from e_t and apply the layers last to first, r <- r + r Abar_l."""
    row = np.zeros(attentions.shape[-1])
    row[token] = 1.0
    for attention, gradient in zip(attentions[::-1], gradients[::-1]):
        row = row + row @ head_cam(attention, gradient)  # (S,) @ (S, S)
    return row


@dataclass
class ClsExplanations:
    """One image through a vision tower with the gradients of one scalar target, every map at the CLS row and the
    patch columns (row-major over `patches`, N = rows * cols).

    target: y in words ("logit of 'a red circle'", "|CLS output|"); score: y's value. For CLIP, `choices` holds
    (prompt, logit) for every prompt scored, best first. attentions: (L, H, N) raw CLS->patch attention.
    cams: (L, N) E_h[(dA/dy * A)^+] per layer at the CLS row. rollout, chefer: (N,).
    """

    target: str
    score: float
    patches: PatchGrid
    attentions: np.ndarray
    cams: np.ndarray
    rollout: np.ndarray
    chefer: np.ndarray
    choices: list[tuple[str, float]]

    def grad_x_attention(self, layer: int | str = -1) -> np.ndarray:
        """(N,) one layer's E_h[(dA * A)^+] at the CLS row (LAYER_MEAN: averaged over the layers)."""
        return layer_cam(self.cams, layer)

    def maps(self, layer: int | str = -1, head: int | str = HEAD_MEAN) -> dict[str, np.ndarray]:
        """method -> (N,); layer and head choose the raw map, layer the gradient x attention one; rollout and
        Chefer use every layer and head."""
        raw = select(self.attentions[:, :, None], layer, head)[0]  # (L, H, 1, N) -> (N,)
        return {"raw": raw, "rollout": self.rollout, "grad_x_attention": self.grad_x_attention(layer),
                "chefer": self.chefer}


def from_maps(attentions: np.ndarray, gradients: np.ndarray, patches: PatchGrid, target: str, score: float,
              choices: list[tuple[str, float]] | None = None) -> ClsExplanations:
    """(L, H, 1 + N, 1 + N) attentions and dy/dA of one image -> the four methods at the CLS row, patches only."""
    on_patches = IMAGE_TOKENS.patches  # drops the CLS column
    cams = np.clip(gradients[:, :, CLS] * attentions[:, :, CLS], 0, None).mean(axis=1)  # (L, 1 + N): eq. 5, CLS row
    return ClsExplanations(
        target=target, score=score, patches=patches,
        attentions=on_patches(attentions[:, :, CLS]).copy(),  # (L, H, N)
        cams=on_patches(cams).copy(),  # (L, N)
        rollout=on_patches(rollout(attentions)[CLS]).copy(),  # (N,)
        chefer=on_patches(cls_relevancy(attentions, gradients)).copy(),  # (N,)
        choices=choices or [])


def explain_clip(clip_model, processor, image: Image.Image, prompts: list[str]) -> ClsExplanations:
    """y = the CLIP logit of the best of `prompts` (at least one) for this image; one grad-enabled forward of the
    vision tower (eager attention, every map kept in the graph), the text tower without gradient."""
    if not prompts:
        raise ValueError("CLIP's target is an image-text logit: give at least one prompt")
    pixel_values = processor(images=image, return_tensors="pt").pixel_values  # (1, 3, H, W)
    tokens = processor.tokenizer(list(prompts), return_tensors="pt", padding=True, truncation=True)
    with torch.no_grad():
        scale = clip.logit_scale(clip_model)  # a float: y's constant factor
    with torch.inference_mode(False), torch.enable_grad():
        with torch.no_grad():
            text = clip.text_embeds(clip_model, tokens.input_ids, tokens.attention_mask)  # (T, D)
            text = text / text.norm(dim=-1, keepdim=True)
        out = clip.vision(clip_model, pixel_values, attentions=True)
        if out.attentions is None:
            raise RuntimeError("CLIP's vision tower returned no attention maps: load it with eager attention")
        image_embed = clip.image_embeds(clip_model, out)[0]  # (D,)
        logits = scale * text @ (image_embed / image_embed.norm())  # (T,)
        best = int(logits.argmax())
        attentions, gradients = attention_gradients(logits[best], out.attentions)  # (L, H, 1 + N, 1 + N) each
    scores = logits.detach().numpy()
    order = np.argsort(-scores)
    return from_maps(attentions, gradients, model_patches(pixel_values, processor.image_processor,
                                                          clip.patch_size(clip_model)),
                     f"logit of “{prompts[best]}”", float(scores[best]),
                     [(prompts[i], float(scores[i])) for i in order])


def explain_dino(dino_model, processor, image: Image.Image, side: int = dinov2.DEFAULT_RESOLUTION
                 ) -> ClsExplanations:
    """y = |h_CLS|, the final (post-LayerNorm) CLS output's norm (module doc: no decision to explain); the photo's
    centre square at `side` px, as core.concepts.patching.photo_patch_view feeds it."""
    p = dinov2.patch_size(dino_model)
    pixels_in = dinov2.model_image(image, side, p)  # (side, side, 3) uint8
    pixels = dinov2.pixel_values(pixels_in, processor)  # (1, 3, side, side)
    with torch.inference_mode(False), torch.enable_grad():
        out = dino_model(pixel_values=pixels, output_attentions=True)
        if out.attentions is None:
            raise RuntimeError("DINOv2 returned no attention maps: load it with eager attention")
        cls_out = out.last_hidden_state[0, CLS]  # (d,)
        target = cls_out.norm()  # = u . h_CLS with u = h_CLS / |h_CLS| held fixed: same gradient
        attentions, gradients = attention_gradients(target, out.attentions)
    rows, cols = dinov2.grid(dino_model, pixels)
    return from_maps(attentions, gradients, PatchGrid(pixels_in, p, rows, cols), "|CLS output|",
                     float(target.detach()))
