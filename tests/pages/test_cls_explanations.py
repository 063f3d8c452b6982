"""The Patching page's comparison of explanation methods for CLS: closed by default (no backward pass), then four
figures with their claims, carrying the numbers core/analysis/relevancy_vision.py computes."""
from __future__ import annotations

import numpy as np

from components.sections import cls_explanations
from components.service.vision_explanations import class_prompts
from core.analysis import relevancy_vision
from core.attention import HEAD_MEAN
from core.inputs import images
from tests.models import bundled
from tests.pages.test_more_explanations import _by_title, _claims_shown, _open
from tests.pages.test_pages import figures, heatmap_z, open_page


def test_clip_cls_explanations_carry_the_models_numbers_and_follow_the_layer_and_head():
    at = open_page("pages/patching.py")  # bundled pack, a shapes scene: the tiny CLIP
    name = at.sidebar.selectbox(key="image_source").value
    assert images.sample_scene(name) is not None
    at = _open(at, cls_explanations.KEY)
    loaded = bundled("clip")
    expected = relevancy_vision.explain_clip(loaded.model, loaded.processor,
                                             images.load_image(images.sample_png(name)), class_prompts())
    grid = expected.patches.shape
    drawn = _by_title(at)
    for method, values in expected.maps(-1, HEAD_MEAN).items():  # the selectors' defaults: last layer, head mean
        np.testing.assert_allclose(heatmap_z(drawn[method]), values.reshape(grid), rtol=1e-4, atol=1e-7)
    _claims_shown(at, cls_explanations.CLAIMS)
    assert any(expected.target in m.value for m in at.markdown)  # y is named: the best prompt's logit

    at.selectbox(key=f"{cls_explanations.KEY}_layer").set_value(0)
    at.selectbox(key=f"{cls_explanations.KEY}_head").set_value(1).run()
    assert not at.exception, [e.value for e in at.exception]
    drawn, maps = _by_title(at), expected.maps(0, 1)
    for method in ("raw", "grad_x_attention"):  # these follow the choice; rollout and Chefer use every layer
        np.testing.assert_allclose(heatmap_z(drawn[method]), maps[method].reshape(grid), rtol=1e-4, atol=1e-7)
    assert not np.allclose(maps["raw"], expected.maps(-1, HEAD_MEAN)["raw"])  # a change the test can see


def test_dino_cls_explanations_say_what_the_gradient_explains():
    at = open_page("pages/patching.py")
    name = at.sidebar.selectbox(key="image_source").value
    at.radio(key="patching_vision_shapes").set_value(
        next(o for o in at.radio(key="patching_vision_shapes").options if o.startswith("DINOv2"))).run()
    assert not at.exception, [e.value for e in at.exception]
    at = _open(at, cls_explanations.KEY)
    dino = bundled("vision")
    expected = relevancy_vision.explain_dino(dino.model, dino.processor, images.load_image(images.sample_png(name)),
                                             224)
    drawn = _by_title(at)
    for method, values in expected.maps(-1, HEAD_MEAN).items():
        np.testing.assert_allclose(heatmap_z(drawn[method]), values.reshape(16, 16), rtol=1e-3, atol=1e-6)
    _claims_shown(at, cls_explanations.DINO_CLAIMS)
    assert cls_explanations.DINO_NOTE in [i.value for i in at.info]
    assert not any("Explained at 224 px" in c.value for c in at.caption)


def test_dino_at_448_px_is_explained_at_224_px_and_says_so():
    at = open_page("pages/patching.py")
    at.radio(key="patching_vision_shapes").set_value(
        next(o for o in at.radio(key="patching_vision_shapes").options if o.startswith("DINOv2"))).run()
    at.radio(key="patching_side").set_value(448).run()
    assert not at.exception, [e.value for e in at.exception]
    at = _open(at, cls_explanations.KEY)
    assert not at.exception, [e.value for e in at.exception]
    assert any("Explained at 224 px" in c.value for c in at.caption)
    assert all(heatmap_z(f).shape == (16, 16) for f in _by_title(at).values())  # the 224 px grid


def test_a_photo_with_a_hub_clip_and_no_text_says_there_is_nothing_to_explain(monkeypatch):
    at = open_page("pages/patching.py")
    at.sidebar.selectbox(key="image_source").set_value("photo: coffee").run()
    clip_option = next(o for o in at.radio(key="patching_vision_photo").options if o.startswith("CLIP"))
    at.radio(key="patching_vision_photo").set_value(clip_option)
    at.sidebar.text_area(key="text").set_value("").run()
    assert not at.exception, [e.value for e in at.exception]
    monkeypatch.setattr(cls_explanations, "hub_serves", lambda pack, role: True)  # offline, the hub never serves
    before = len(figures(at))
    at.session_state[cls_explanations.KEY] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert cls_explanations.NO_CAPTION in [i.value for i in at.info]
    assert len(figures(at)) == before and not _by_title(at)  # no target: no backward pass, no figures
