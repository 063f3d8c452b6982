"""Shared links: a view survives the trip through the URL, bad links degrade quietly, and opening a link in the
app (AppTest with query parameters) restores the page, image, text, layer, head, token and patch."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from streamlit.testing.v1 import AppTest

from core.classroom.deep_link import UPLOADED, View, base_url, from_query, link, to_query
from tests.conftest import ROOT

FULL = View(page="cross-attention", image="shapes: three objects", text="what color is the circle?", pack="bundled",
            layer=0, head=1, token=5, patch=20, predict=True)


def test_a_view_round_trips_through_query_parameters_and_a_link():
    assert from_query(to_query(FULL)) == FULL
    url = link("http://host:8501/app", FULL)
    parsed = urlparse(url)
    assert parsed.path == "/app/"  # the home route: page= names the page, so no "Page not found"
    params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    assert from_query(params) == FULL
    assert from_query(to_query(View(layer="mean", head="max"))) == View(layer="mean", head="max")


@pytest.mark.parametrize("params, expected", [
    ({"page": "nowhere", "layer": "-1", "head": "best", "token": "x", "pack": "cloud"}, View()),
    ({"patch": ["3", "7"]}, View(patch=7)),  # a repeated key: the last wins, as in st.query_params
    ({"text": "a" * 500}, View(text="a" * 200)),
    ({"predict": "yes", "layer": "mean"}, View(predict=True, layer="mean")),
])
def test_a_bad_or_odd_link_is_read_leniently(params, expected):
    assert from_query(params) == expected


def test_a_links_text_limit_is_the_sidebars():
    from core.classroom import deep_link
    from core.inputs import text_limits

    assert deep_link.MAX_TEXT == text_limits.MAX_TEXT_CHARS


def test_the_base_url_drops_the_current_pages_path():
    assert base_url("http://h:1/cross-attention", "cross-attention") == "http://h:1"
    assert base_url("https://x.streamlit.app/sub/patches?x=1", "patches") == "https://x.streamlit.app/sub"
    assert base_url("http://h:1/", "") == "http://h:1"
    assert base_url(None, "patches").startswith("http://localhost")


def open_link(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({k: str(v) for k, v in params.items()})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_opening_a_link_restores_the_cross_attention_view():
    at = open_link(**to_query(FULL))
    assert at.title[0].value.startswith("Cross-attention")
    assert at.toggle(key="cross_predict").value is True
    assert any("Predict:" in m.value for m in at.markdown)  # predict-first mode: the answer is hidden
    assert not at.subheader
    at.session_state["cross_q_guess"] = 12  # what a click on the image stores
    at.run()
    at.button(key="cross_q_reveal").click().run()
    assert at.subheader[0].value.startswith("Answer:")
    assert at.selectbox(key="image_source").value == "shapes: three objects"
    assert at.text_area(key="text").value == "what color is the circle?"
    assert at.selectbox(key="cross_layer").value == 0
    assert at.selectbox(key="cross_head").value == 1
    assert at.segmented_control(key="cross_token").value == 5
    assert at.selectbox(key="cross_patch").value == 20  # not reset to the token's top patch


def test_the_view_on_screen_is_written_back_to_the_url_and_the_share_box():
    at = open_link(page="patches", image="shapes: one object", layer="1", head="2", patch="9")
    assert at.title[0].value.startswith("Patching")
    assert at.selectbox(key="patching_layer").value == 1 and at.selectbox(key="patching_head").value == 2
    assert at.session_state["patching_patch"] == 9
    at.selectbox(key="patching_layer").set_value(0).run()
    assert at.query_params["layer"] == "0" and at.query_params["image"] == "shapes: one object"
    shared = at.sidebar.code[0].value
    assert from_query({k: v[0] for k, v in parse_qs(urlparse(shared).query).items()}) == View(
        page="patches", image="shapes: one object", text=at.text_area(key="text").value, pack="bundled", layer=0,
        head=2, patch=9)


def test_a_link_with_values_the_page_cannot_show_falls_back_to_its_defaults():
    at = open_link(page="early-fusion", layer="99", head="77", token="500")
    assert at.title[0].value.startswith("Early fusion")
    layer = at.selectbox(key="fusion_layer")
    assert layer.value == layer.options.index(layer.options[-1])  # the last layer, the page's default
    assert at.selectbox(key="fusion_head").value == "mean"
    assert at.subheader[0].value.startswith("Answer:")


def test_a_link_made_with_an_upload_asks_for_the_image_again():
    at = open_link(page="cross-attention", image=UPLOADED, text="what is this?")
    assert at.selectbox(key="image_source").value == "upload an image"
    assert any("cannot carry" in i.value for i in at.sidebar.info)
    assert any("Choose an image" in i.value for i in at.info)


def test_a_link_to_a_missing_sample_keeps_the_default_image():
    at = open_link(page="patches", image="photo: unicorn")
    assert at.selectbox(key="image_source").value == "shapes: two objects"
    assert at.title[0].value.startswith("Patching")
