"""The answer area says when a bundled model is out of its depth: "Answer (a guess):" and the measured reason on a
photo, a plain "Answer:" and no warning on a shapes scene."""
import pytest
from streamlit.testing.v1 import AppTest

from core.inputs import images
from tests.pages.test_pages import open_page

needs_cat = pytest.mark.skipif("photo: cat" not in images.samples(), reason="scikit-image's photos not installed")


def _with_image(page: str, name: str) -> AppTest:
    at = open_page(page)
    at.selectbox(key="image_source").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _depth_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "Out of its depth" in w.value]


@needs_cat
@pytest.mark.parametrize("page", ["pages/cross_attention.py", "pages/early_fusion.py"])
def test_the_cat_photo_gets_a_guess_and_the_reason(page):
    at = _with_image(page, "photo: cat")
    assert at.subheader[0].value.startswith("Answer (a guess): ")
    [warning] = _depth_warnings(at)
    assert "are neither the plain background nor one of the world's six object colours" in warning


@pytest.mark.parametrize("page", ["pages/cross_attention.py", "pages/early_fusion.py"])
def test_a_shapes_scene_gets_a_plain_answer_and_no_warning(page):
    at = _with_image(page, "shapes: two objects")
    assert at.subheader[0].value.startswith("Answer: ")
    assert _depth_warnings(at) == []
    assert not any("nearly uniform" in i.value for i in at.info)  # scenes' maps peak (uniformity.py: >= 1.6)


def test_cross_attention_keeps_the_question_caption_under_the_answer():
    at = _with_image("pages/cross_attention.py", "shapes: two objects")
    assert any(c.value.startswith("Question: “") and "answer probability" in c.value for c in at.caption)


def test_a_nearly_uniform_map_gets_the_note():
    """The bundled models' maps are never this flat (uniformity.py's calibration), so the section is driven
    directly, with a hand-made map, through a tiny script."""
    script = '''
import numpy as np
from components.sections.answer_section import answer_section
from core.inputs import images
flat = np.array([[0.0036, 0.0040, 0.0048], [0.1, 0.2, 0.7]])  # rows: "circle" (the naming word), "[SEP]"
answer_section("red", 0.9, images.sample_png("shapes: two objects"), "bundled", flat, tokens=["circle", "[SEP]"])
'''
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value == "Answer: red"
    [note] = [i.value for i in at.info]
    assert "nearly uniform" in note and "max/min = 1.33" in note and "“circle”" in note


def test_the_hub_pack_is_not_checked():
    script = '''
from components.sections.answer_section import answer_section
from core.inputs import images
answer_section("a cat", 0.8, images.sample_png("photo: cat"), "hub")
'''
    if "photo: cat" not in images.samples():
        pytest.skip("scikit-image's photos not installed")
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception and at.subheader[0].value == "Answer: a cat" and not at.warning
