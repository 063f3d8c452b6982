"""A test harness for the attention explorer (tests/browser/test_browser_explorer.py, bench/browser.py):
`streamlit run tests/browser/explorer_app.py`. Three explorers: the bundled BLIP's real cross-attention on a shapes
scene; the bundled ViLT's joint attention both ways (`?only=fusion`: text -> image and image -> text, with a fixed
patch shuffle, so a test recomputes the same numbers with fusion_result); and a full-size BLIP-shaped payload (12
layers x 12 heads x 10 tokens x 576 patches on a 24 x 24 grid) of random but structured weights. Every script run
adds one to a counter shown on the page, so a test sees any rerun; a pin is shown as text and written into the URL
(the pages do that with deep_link.publish). The page runs only under `streamlit run` (__main__), so a test can import
full_size_maps and fusion_result to check the explorer's numbers against."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402
from PIL import Image  # noqa: E402

from components.sections.explorer_section import explorer_for  # noqa: E402
from components.service import models  # noqa: E402
from core.attention import HEAD_MEAN  # noqa: E402
from core.attention.maps import AttentionMaps  # noqa: E402
from core.attention.patch_grid import PatchGrid  # noqa: E402
from core.inputs import images  # noqa: E402

SCENE = "shapes: two objects"
BIG = (12, 12, 10, 576)  # BLIP base: layers, heads, question tokens, 24 x 24 patches (CLS dropped)
BIG_TOKENS = ["[CLS]", "what", "color", "is", "the", "cat", "'", "s", "eyes", "?"]


def full_size_maps(seed: int = 0) -> np.ndarray:
    """(12, 12, 10, 576) softmax rows, each (layer, head, token) a blob at its own place: views differ visibly.
    Each row then keeps a share of its weight on the patches (mass 0.3-1, per head and token), the rest on keys not
    drawn (BLIP's CLS key), so the rows do not sum to 1, as on the pages."""
    rng = np.random.default_rng(seed)
    layers, heads, tokens, n = BIG
    side = int(n ** 0.5)
    yy, xx = np.mgrid[0:side, 0:side]
    centres = rng.uniform(2, side - 2, size=(layers, heads, tokens, 2))
    width = rng.uniform(1.5, 5.0, size=(layers, heads, tokens, 1, 1))
    d2 = (yy - centres[..., 0, None, None]) ** 2 + (xx - centres[..., 1, None, None]) ** 2  # (L, H, T, s, s)
    logits = -d2 / (2 * width ** 2) * rng.uniform(1, 4, size=(layers, heads, 1, 1, 1))
    logits = logits.reshape(layers, heads, tokens, n) + rng.normal(0, 0.3, size=(layers, heads, tokens, n))
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    rows = weights / weights.sum(axis=-1, keepdims=True)
    mass = rng.uniform(0.3, 1.0, size=(layers, heads, 1, 1)) * rng.uniform(0.8, 1.0, size=(layers, heads, tokens, 1))
    return (rows * mass).astype(np.float32)


cached_maps = st.cache_data(full_size_maps)
FUSION_QUESTION = "what color is the circle?"


def fusion_result():
    """The bundled ViLT on the harness's scene. ViLT shuffles its patch tokens on every forward: torch seed 0 fixes
    the shuffle, so a test process gets the same result (and the same numbers to check the browser against)."""
    import torch

    from core.concepts import early_fusion
    from core.models import registry

    loaded = registry.load("bundled", "fusion")
    torch.manual_seed(0)
    return early_fusion.fuse(loaded.model, loaded.processor, images.load_image(images.sample_png(SCENE)),
                             FUSION_QUESTION)


cached_fusion = st.cache_resource(fusion_result)


@st.cache_data
def full_size_image() -> np.ndarray:
    png = images.sample_png("photo: cat" if "photo: cat" in images.samples() else SCENE)
    return np.asarray(images.load_image(png).convert("RGB").resize((384, 384), Image.Resampling.BILINEAR))


def main() -> None:
    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    st.title("Attention explorer harness")
    st.caption(f"script runs: {st.session_state['runs']}")

    which = st.query_params.get("only", "both")
    if which in ("both", "bundled"):
        result = models.ask("bundled", images.sample_png(SCENE), "what color is the circle?")
        pinned = explorer_for(result.token_patch_maps(), key="explorer_bundled",
                              selected={"layer": result.token_patch_matrix.shape[0] - 1, "head": HEAD_MEAN, "query": 1})
        st.text(f"pinned explorer_bundled: {json.dumps(pinned, default=str)}")
    if which == "fusion":
        fused = cached_fusion()
        pinned_fusion = explorer_for(fused.text_to_patch_maps(), key="explorer_fusion", title="Bundled ViLT both ways",
                                     reverse=fused.patch_to_text_maps())
        st.text(f"pinned explorer_fusion: {json.dumps(pinned_fusion, default=str)}")
    if which in ("both", "big"):
        pinned_big = explorer_for(AttentionMaps(cached_maps(), BIG_TOKENS, PatchGrid.of(full_size_image(), 16)),
                                  key="explorer_big",
                                  selected={"layer": 11, "head": HEAD_MEAN, "query": 5}, title="Full-size BLIP shapes",
                                  on_pin=lambda sel: st.session_state.update(pinned_by_callback=sel))
        st.text(f"pinned explorer_big: {json.dumps(pinned_big, default=str)}")
        st.text(f"on_pin saw: {json.dumps(st.session_state.get('pinned_by_callback'), default=str)}")
        if pinned_big:
            st.query_params.update({"layer": str(pinned_big["layer"]), "head": str(pinned_big["head"]),
                                    "token": str(pinned_big["query"]),
                                    **({"patch": str(pinned_big["key"])} if pinned_big["key"] is not None else {})})


if __name__ == "__main__":
    main()
