"""Presets, predict-then-reveal and the lesson's words: the data is sound, and each works on its page."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.classroom import lesson, presets
from core.classroom.page_table import NAMES as PAGES
from core.classroom.prediction import SHARE_BINS, Bins, grade_choice, grade_patch
from core.inputs import images
from tests.conftest import ROOT


def test_every_preset_names_a_page_and_an_image_that_exist():
    for page, items in presets.PRESETS.items():
        assert page in PAGES and len(items) >= 3
        for preset in items:
            assert preset.view.page == page and preset.title and preset.notice
            # a shapes sample, or one of the photos that exist whenever scikit-image is installed
            assert preset.view.image in images.SAMPLE_SCENES.keys() | images.SKIMAGE_PHOTOS.keys()
            assert preset.view.image in images.samples() or importlib.util.find_spec("skimage") is None
    assert all(p.view.image in images.samples() for p in presets.presets_for("cross-attention"))


def test_clip_galleries_have_one_confusing_caption_each():
    galleries = presets.clip_galleries()
    assert galleries and galleries[0].title == "Swapped colours"
    for gallery in galleries:
        assert all(name in images.samples() for name in gallery.images)
        assert len(gallery.captions) == len(gallery.images) + 1 and gallery.confusing == len(gallery.images)
    swapped = galleries[0]
    true_caption = swapped.captions[swapped.images.index("shapes: two objects")]
    confusing = swapped.captions[swapped.confusing]
    assert sorted(confusing.split()) == sorted(true_caption.split()) and confusing != true_caption


def test_a_patch_guess_is_graded_by_its_rank():
    values = np.array([[0.1, 0.5], [0.3, 0.1]])  # patches 0..3 in reading order
    best = grade_patch(values, 1)
    assert best.rank == 1 and best.hit and "Spot on" in best.sentence and best.top == (1, 2, 0)
    close = grade_patch(values, 2)
    assert close.rank == 2 and close.hit
    miss = grade_patch(values, 3, top_k=2)
    assert miss.rank == 4 and not miss.hit and "20%" in miss.sentence
    with pytest.raises(ValueError):
        grade_patch(values, 4)


def test_a_choice_guess_is_graded_by_its_bin():
    assert SHARE_BINS.label_of(0.0) == "under 10%" and SHARE_BINS.label_of(0.79) == "over 70%"
    assert SHARE_BINS.label_of(1.0) == "over 70%" and SHARE_BINS.label_of(0.1) == "10-40%"
    verdict = grade_choice(0.79, "10-40%")
    assert not verdict.hit and "79%" in verdict.sentence and "over 70%" in verdict.sentence
    assert grade_choice(0.05, "under 10%").hit
    with pytest.raises(ValueError):
        Bins((0.0, 0.5), ("a", "b"))


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_has_its_words_a_formula_and_reading(page):
    words = lesson.lesson(page)
    assert len(words.idea) > 200 and words.formulas and len(words.reading) >= 3
    assert all(r.url.startswith("https://arxiv.org/abs/") for r in words.reading)
    assert all(f.where for f in words.formulas)


def test_the_reading_covers_the_papers_the_lesson_builds_on():
    titles = " ".join(r.title for page in PAGES for r in lesson.lesson(page).reading)
    for name in ("Image is Worth 16x16 Words", "Natural Language Supervision", "BLIP", "ViLT", "Flamingo",
                 "Attention Flow", "Bi-Modal"):
        assert name in titles


def _open(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_preset_button_loads_its_image_text_and_predict_mode():
    at = _open("pages/cross_attention.py")
    assert any("softmax" in latex.value for latex in at.latex)  # the lesson's formula is on the page
    at.button(key="cross-attention_preset_2").click().run()  # "How many objects?"
    assert not at.exception
    assert at.selectbox(key="image_source").value == "shapes: three objects"
    assert at.text_area(key="text").value == "how many objects are there?"
    assert any("How many objects?" in i.value for i in at.info)
    at.button(key="cross-attention_preset_0").click().run()  # "What colour is the circle?", predict first
    assert at.toggle(key="cross_predict").value is True and not at.subheader
    at.session_state["cross_q_guess"] = 0
    at.run()
    at.button(key="cross_q_reveal").click().run()
    assert not at.exception
    assert at.subheader[0].value == "Answer: green"
    assert (at.success or at.info) and any("patch" in m.value for m in list(at.success) + list(at.info))


def test_patching_predict_first_hides_the_page_until_the_guess_is_committed():
    at = _open("pages/patching.py")
    n_charts = len(at.get("plotly_chart"))
    at.toggle(key="patching_predict").set_value(True).run()
    assert not at.get("plotly_chart") and not at.metric
    assert at.button(key="patching_q_reveal").disabled
    at.session_state["patching_q_guess"] = 27
    at.run()
    at.button(key="patching_q_reveal").click().run()
    assert len(at.get("plotly_chart")) == n_charts
    at.button(key="patching_q_again").click().run()
    assert not at.get("plotly_chart")


def test_home_lists_the_presets_as_links():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    links = at.markdown[-1].value
    assert "?page=cross-attention" in links and "What colour is the circle?" in links


def test_an_option_guess_is_graded_against_the_models_scores():
    from core.classroom.prediction import grade_option

    captions = ["a red circle", "a blue square", "a green triangle"]
    verdict = grade_option(captions, np.array([0.2, 0.9, 0.5]), "a green triangle")
    assert verdict.truth == "a blue square" and not verdict.hit and "2 of 3" in verdict.sentence
    assert grade_option(captions, [0.2, 0.9, 0.5], "a blue square").hit
    with pytest.raises(ValueError):
        grade_option(captions, [0.1, 0.2], "a red circle")


def _option_script():
    import streamlit as st

    from components.widgets.predict_reveal import option_question

    option_question("q", "Which caption will CLIP rank first?", ["a cat", "a dog"], [0.1, 0.7], ("photo",))
    st.markdown("the figure")


def test_option_question_hides_the_rest_until_the_reveal():
    at = AppTest.from_function(_option_script, default_timeout=60).run()
    assert not at.exception and "the figure" not in [m.value for m in at.markdown]
    at.radio(key="q_guess").set_value("a cat").run()
    at.button(key="q_reveal").click().run()
    assert "the figure" in [m.value for m in at.markdown]
    assert "ranks “a dog” first" in at.info[0].value


def _gallery_script():
    import streamlit as st

    from components.widgets.presets import clip_gallery_buttons

    def pick(gallery):
        st.session_state["captions"] = "\n".join(gallery.captions)

    clip_gallery_buttons(pick)
    st.text_area("Captions", key="captions")


def test_a_clip_gallery_button_hands_its_gallery_to_the_page():
    at = AppTest.from_function(_gallery_script, default_timeout=60).run()
    at.button(key="clip_gallery_0").click().run()
    assert not at.exception
    assert at.text_area(key="captions").value.splitlines() == list(presets.clip_galleries()[0].captions)
