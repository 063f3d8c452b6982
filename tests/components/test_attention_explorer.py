"""The attention explorer's payload (components/figures/attention_payload.py) and its Streamlit wrapper."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.figures import attention_payload as payload
from core.attention import select

BLIP = (12, 12, 10, 576)  # layers, heads, question tokens, 24 x 24 patches (CLS dropped)


def softmax_maps(shape, seed=0, sharpness=3.0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(0, sharpness, size=shape)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def test_round_trip_is_within_half_a_quantisation_step_of_each_view():
    maps = softmax_maps((3, 4, 5, 36))
    maps[1, 2] *= 1e-3  # a quiet head keeps its own resolution: the step is per (layer, head)
    decoded = payload.decode(payload.encode(maps, list("abcde"), (6, 6)))
    step = decoded.scales / payload.LEVELS  # (L, H)
    error = np.abs(decoded.maps - maps).max(axis=(2, 3))
    assert (error <= step / 2 + 1e-7).all()
    assert error[1, 2] < 1e-5


def test_each_view_has_a_fixed_scale_its_own_max():
    maps = softmax_maps((2, 3, 4, 16), seed=1)
    codes, scales = payload.quantise(maps)
    np.testing.assert_allclose(scales, maps.max(axis=(2, 3)), rtol=1e-6)
    assert (codes.max(axis=(2, 3)) == payload.LEVELS).all()  # the brightest colour is each view's max
    decoded = payload.dequantise(codes, scales)
    for layer in ["mean", 0, 1]:
        for head in ["mean", "max", 0, 2]:  # the browser's view = core.attention.select, within the steps
            np.testing.assert_allclose(payload.view(decoded, layer, head), select(maps, layer, head),
                                       atol=float(scales.max()) / payload.LEVELS)


def test_full_size_blip_payload_is_under_two_megabytes_with_the_image():
    maps = softmax_maps(BLIP, seed=2)
    image = np.random.default_rng(3).integers(0, 256, size=(384, 384, 3), dtype=np.uint8)  # noise: worst case
    data = payload.encode(maps, [f"t{i}" for i in range(10)], (24, 24), image, title="BLIP")
    assert len(data) < 2 * 2**20
    assert len(data) >= np.prod(BLIP)  # one byte per weight: nothing was dropped
    decoded = payload.decode(data)
    assert decoded.codes.shape == BLIP and decoded.header["grid"] == [24, 24]
    assert decoded.header["image_mime"] in ("image/png", "image/jpeg") and decoded.image[:2] in (b"\x89P", b"\xff\xd8")


def test_header_sections_are_aligned_and_the_digest_names_the_result():
    maps = softmax_maps((2, 2, 3, 7))
    a = payload.decode(payload.encode(maps, ["x", "y", "z"], None, selected={"layer": 1}))
    b = payload.decode(payload.encode(maps, ["x", "y", "z"], None, selected={"layer": 0}))
    c = payload.decode(payload.encode(maps * 0.5, ["x", "y", "z"], None))
    assert all(at % 4 == 0 for at, _ in a.header["offsets"].values())
    assert a.header["grid"] is None and "image" not in a.header["offsets"]
    assert a.header["digest"] == b.header["digest"] != c.header["digest"]  # a new view is not a new result
    assert a.header["selected"] == {"layer": 1}


def test_head_summaries_on_hand_made_rows():
    maps = np.zeros((1, 3, 2, 9), dtype=np.float32)  # keys: a 3 x 3 grid in reading order
    maps[0, 0, 0, 4] = 1.0  # head 0: one patch ...
    maps[0, 0, 1] = 1 / 9  # ... and even over all nine
    maps[0, 1, 0, [0, 8]] = 0.25  # head 1: two opposite corners, half its weight (the rest on keys not drawn)
    maps[0, 1, 1, [0, 8]] = 0.25
    maps[0, 2, 0, 2] = 0.5  # head 2: one live row, one row of zeros
    got = payload.head_summaries(maps, (3, 3))
    np.testing.assert_allclose(got["entropy"][0], [(0 + np.log2(9)) / 2, 1.0, 0.0], atol=1e-6)
    corner = np.hypot(1, 1)  # (0, 0) and (2, 2) around their centre (1, 1)
    centre_spread = np.mean([np.hypot(r - 1, c - 1) for r in range(3) for c in range(3)])
    np.testing.assert_allclose(got["spread"][0], [(0 + centre_spread) / 2, corner, 0.0], atol=1e-6)
    np.testing.assert_allclose(got["mass"][0], [1.0, 0.5, 0.25], atol=1e-6)  # the zero row counts as mass 0
    strip = payload.head_summaries(maps, None)  # no grid: distances in keys along the strip
    np.testing.assert_allclose(strip["spread"][0, 1], 4.0, atol=1e-6)  # keys 0 and 8 around key 4
    np.testing.assert_allclose(strip["entropy"], got["entropy"])


def test_head_summaries_renormalise_rows_so_only_mass_sees_the_scale():
    maps = softmax_maps((2, 3, 4, 16), seed=4)
    share = np.random.default_rng(5).uniform(0.2, 1.0, size=(2, 3, 4, 1)).astype(np.float32)
    whole, part = payload.head_summaries(maps, (4, 4)), payload.head_summaries(maps * share, (4, 4))
    np.testing.assert_allclose(part["entropy"], whole["entropy"], rtol=1e-5)
    np.testing.assert_allclose(part["spread"], whole["spread"], rtol=1e-5)
    np.testing.assert_allclose(whole["mass"], 1.0, rtol=1e-5)
    np.testing.assert_allclose(part["mass"], share[..., 0].mean(axis=-1), rtol=1e-5)
    p = maps[1, 2]  # (Q, K), rows sum to 1: the textbook entropy, row by row
    np.testing.assert_allclose(whole["entropy"][1, 2], np.mean([-(r * np.log2(r)).sum() for r in p]), rtol=1e-5)


def test_the_payload_carries_the_summaries_of_the_float_maps():
    maps = softmax_maps((3, 2, 5, 12), seed=6) * 0.7
    decoded = payload.decode(payload.encode(maps, list("abcde"), (3, 4)))
    assert decoded.header["summary"] == list(payload.SUMMARIES)
    expected = payload.head_summaries(maps, (3, 4))
    for name in payload.SUMMARIES:
        np.testing.assert_array_equal(decoded.summary[name], expected[name])  # exact: not from the uint8 codes
    assert decoded.summary["mass"].shape == (3, 2)
    np.testing.assert_allclose(decoded.summary["mass"], 0.7, rtol=1e-5)


@pytest.mark.parametrize("bad, message", [
    (dict(maps=np.ones((2, 3, 4))), "layers, heads"),
    (dict(labels=["a"]), "query labels"),
    (dict(grid=(5, 5)), "grid"),
    (dict(maps=-np.ones((1, 1, 2, 4))), "non-negative"),
])
def test_bad_input_fails_loudly(bad, message):
    args = dict(maps=np.full((1, 1, 2, 4), 0.25, dtype=np.float32), labels=["a", "b"], grid=(2, 2)) | bad
    with pytest.raises(ValueError, match=message):
        payload.encode(args["maps"], args["labels"], args["grid"])


def _app():
    import numpy as np
    import streamlit as st

    from components.sections.explorer_section import explorer_for
    from core.attention.maps import AttentionMaps
    from core.attention.patch_grid import PatchGrid

    maps = AttentionMaps(np.full((2, 2, 3, 4), 0.25, dtype=np.float32), ["a", "b", "c"],
                         PatchGrid.of(np.zeros((8, 8, 3), np.uint8), 4))  # 2 x 2 patches of 4 px
    picked = explorer_for(maps, key="ex", selected={"layer": 1, "head": "mean", "query": 2})
    st.text(f"picked: {picked}")


def test_the_wrapper_mounts_in_apptest_and_returns_none_before_a_pin():
    at = AppTest.from_function(_app, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text[0].value == "picked: None"
