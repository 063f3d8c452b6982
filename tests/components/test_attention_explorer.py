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


def test_the_reverse_direction_is_stored_transposed_with_its_own_scales_and_summaries():
    """Image -> text: (L, H, patches, words) reading maps ride in the same payload, transposed to the explorer's
    words x patches layout, each view quantised on its own max, summaries from the untransposed float maps."""
    forward = softmax_maps((3, 2, 4, 6), seed=7)  # 4 words reading a 2 x 3 grid
    back = softmax_maps((3, 2, 6, 4), seed=8) * 0.4  # each of the 6 patches reading the 4 words (0.4 of its row)
    data = payload.encode(forward, list("abcd"), (2, 3), reverse=back)
    decoded = payload.decode(data)
    assert decoded.header["directions"] == ["text->image", "image->text"]
    np.testing.assert_allclose(decoded.maps, forward, atol=float(forward.max()) / payload.LEVELS)
    reverse = decoded.reverse
    assert reverse.codes.shape == (3, 2, 4, 6)  # words x patches, as the forward maps
    np.testing.assert_allclose(reverse.scales, back.max(axis=(2, 3)), rtol=1e-6)
    step = reverse.scales[:, :, None, None] / payload.LEVELS
    assert (np.abs(reverse.reading_maps - back) <= step / 2 + 1e-7).all()
    np.testing.assert_array_equal(reverse.codes[1, 0, 2, 5], payload.quantise(back)[0][1, 0, 5, 2])  # [q, k] = [k, q]
    expected = payload.head_summaries(back, None)  # a patch's weights over the words: the words on a strip
    for name in payload.SUMMARIES:
        np.testing.assert_array_equal(reverse.summary[name], expected[name])
    np.testing.assert_allclose(reverse.summary["mass"], 0.4, rtol=1e-5)
    alone = payload.decode(payload.encode(forward, list("abcd"), (2, 3)))
    assert alone.reverse is None and alone.header["directions"] is None
    assert alone.header["digest"] != decoded.header["digest"]  # another result: the browser starts over
    assert len(data) - len(payload.encode(forward, list("abcd"), (2, 3))) < back.size + 200  # one byte a weight
    with pytest.raises(ValueError, match="reverse maps"):
        payload.encode(forward, list("abcd"), (2, 3), reverse=back[:, :, :, :3])


def test_the_early_fusion_payload_carries_vilts_image_to_text_rows_in_reading_order():
    """The bundled ViLT through the section's maps into the payload: the reverse direction's row for patch (r, c) is
    numpy's slice of ViLT's joint attention at the token that carries that patch (shuffled order undone)."""
    from PIL import Image

    from core.concepts import early_fusion
    from tests.models import bundled

    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", (96, 64), "gray"), "what color is it?")
    text, back = result.text_to_patch_maps(), result.patch_to_text_maps()
    decoded = payload.decode(payload.encode(text.weights, text.queries, result.grid, result.patches.image,
                                            reverse=back.weights))
    rows, cols = result.grid
    first = result.n_text + 1  # the text, then the image CLS, then the patches in ViLT's shuffled order
    for layer, head in [(0, 0), (2, 3), (-1, -1)]:
        matrix = result.attentions[layer, head]  # (S, S)
        got = decoded.reverse.reading_maps[layer, head]  # (patches, words)
        step = float(decoded.reverse.scales[layer, head]) / payload.LEVELS
        for token, (r, c) in enumerate(result.patch_positions):
            np.testing.assert_allclose(got[r * cols + c], matrix[first + token, : result.n_text], atol=step / 2 + 1e-7)


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


def _both_ways_app():
    import numpy as np
    import streamlit as st

    from components.sections.explorer_section import explorer_for
    from core.attention.maps import AttentionMaps
    from core.attention.patch_grid import PatchGrid

    grid = PatchGrid.of(np.zeros((8, 8, 3), np.uint8), 4)  # 2 x 2 patches of 4 px
    words = AttentionMaps(np.full((2, 2, 3, 4), 0.25, dtype=np.float32), ["a", "b", "c"], grid)
    patches = AttentionMaps(np.full((2, 2, 4, 3), 0.3, dtype=np.float32), grid.labels(), grid,
                            key_labels=["a", "b", "c"], grid_side="queries")
    picked = explorer_for(words, key="ex", reverse=patches, selected={"direction": "image->text", "query": 1})
    st.text(f"picked: {picked}")
    try:
        explorer_for(patches, key="wrong")
    except ValueError as error:
        st.text(f"refused: {error}")


def test_the_wrapper_takes_both_directions_and_refuses_patch_queries_as_the_first_maps():
    at = AppTest.from_function(_both_ways_app, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text[0].value == "picked: None"
    assert at.text[1].value.startswith("refused: ")


def test_a_selection_keeps_its_direction_on_the_way_in_and_out():
    from components.widgets.attention_explorer import _plain, _typed
    from core.attention import Reduce

    sel = {"layer": 3, "head": "mean", "query": 1, "key": 7, "direction": "image->text"}
    assert _typed(sel) == {"layer": 3, "head": Reduce.MEAN, "query": 1, "key": 7, "direction": "image->text"}
    assert _plain({**sel, "head": Reduce.MEAN, "layer": np.int64(3)}) == sel
    assert "direction" not in _typed({**sel, "direction": "sideways"})  # only the two names travel
