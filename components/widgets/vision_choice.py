"""Which vision model the Patching page runs: real DINOv2 (the default for photos) or the pack's CLIP tower (the
default for shapes scenes, where ground truth exists), and at what resolution."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.classroom.page_table import PageSpec
from core.models import dinov2

DINO = "DINOv2 ViT-S/14 (real weights, 14 px patches)"
CLIP = "CLIP's vision tower (the pack's model)"


@dataclass(frozen=True)
class VisionChoice:
    role: str  # "vision" (DINOv2), "clip" (B/32, or the bundled tiny CLIP) or "clip16" (B/16)
    side: int = dinov2.DEFAULT_RESOLUTION  # DINOv2's input side in px (CLIP's processor decides its own)

    @property
    def key(self) -> tuple[str, int]:
        """What distinguishes two views of one image: for a prediction's context."""
        return self.role, self.side


def vision_choice(page: PageSpec, pack: str, photo: bool) -> VisionChoice:
    """The model picker: its default follows the image's kind, and each kind keeps the user's own choice."""
    kind = "photo" if photo else "shapes"
    model = st.radio("Vision model", (DINO, CLIP), index=0 if photo else 1, horizontal=True,
                     key=page.key(f"vision_{kind}"),
                     help="DINOv2 was trained on real photos with no labels (self-supervised); the bundled CLIP "
                          "was trained on the shapes world, so on photos only its cut into patches is meaningful.")
    if model == DINO:
        side = st.radio("Resolution", dinov2.RESOLUTIONS, horizontal=True, key=page.key("side"),
                        format_func=lambda s: f"{s} px: {s // 14} x {s // 14} patches")
        return VisionChoice("vision", side)
    finer = pack == "hub" and st.toggle("Finer grid: 16 px patches (CLIP ViT-B/16, 14 x 14)", key=page.key("16"))
    return VisionChoice("clip16" if finer else "clip")
