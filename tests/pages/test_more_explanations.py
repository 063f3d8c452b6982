"""The explanation comparisons on the caption, early-fusion and listening views: closed by default (no backward
pass), then four figures with their claims, carrying the numbers core computes."""
from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from components.sections import caption_explanations, fusion_explanations, listening_explanations
from core.analysis import relevancy_caption, relevancy_fusion, relevancy_listening
from core.analysis.relevancy import METHOD_TITLES, METHODS
from core.concepts import captioning, cross_attention
from core.inputs import audio as audio_in
from core.inputs import images
from tests.models import bundled
from tests.pages.test_listen_page import SPOKEN, heard_directly, page_wav
from tests.pages.test_pages import decode, figures, heatmap_z, open_page


def _by_title(at: AppTest) -> dict[str, dict]:
    """The method figures, by title (each title is drawn once per section)."""
    titles = {METHOD_TITLES[m]: m for m in METHODS}
    return {titles[f["layout"]["title"]["text"]]: f for f in figures(at)
            if isinstance(f["layout"].get("title"), dict) and f["layout"]["title"].get("text") in titles}


def _open(at: AppTest, key: str) -> AppTest:
    before = len(figures(at))
    assert not _by_title(at)  # closed: nothing computed, nothing drawn
    at.session_state[key] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(figures(at)) == before + 4
    return at


def _claims_shown(at: AppTest, claims: dict[str, str]) -> None:
    shown = [c.value for c in at.caption]
    assert all(claims[m] in shown for m in METHODS)


def test_caption_word_explanations_carry_the_models_numbers():
    at = open_page("pages/cross_attention.py")
    at.segmented_control(key="cross_mode").set_value("Caption the image").run()
    at = _open(at, "caption_explain")
    loaded = bundled("caption")
    image = images.load_image(images.sample_png(at.selectbox(key="image_source").value))
    result = captioning.caption(loaded.model, loaded.processor, image)
    ids = loaded.processor.tokenizer.convert_tokens_to_ids(result.words)
    expected = relevancy_caption.explain_word(loaded.model, loaded.processor, image, ids, 0).maps()  # step 0
    drawn = _by_title(at)
    for method in METHODS:
        np.testing.assert_allclose(heatmap_z(drawn[method]), expected[method][0].reshape(result.grid), rtol=1e-4,
                                   atol=1e-7)
    _claims_shown(at, caption_explanations.CLAIMS)
    step = result.words.index("red") if "red" in result.words else len(result.words) - 1
    at.select_slider(key="caption_step").set_value(step).run()
    assert not at.exception
    chefer = relevancy_caption.explain_word(loaded.model, loaded.processor, image, ids, step).chefer[step]
    np.testing.assert_allclose(heatmap_z(_by_title(at)["chefer"]), chefer.reshape(result.grid), rtol=1e-4, atol=1e-7)


def test_fusion_token_explanations_follow_the_chosen_token():
    at = open_page("pages/early_fusion.py")
    at = _open(at, "fusion_explain")
    loaded = bundled("fusion")
    name, question = at.selectbox(key="image_source").value, at.text_area(key="text").value
    expected = relevancy_fusion.explain(loaded.model, loaded.processor, images.load_image(images.sample_png(name)),
                                        question)
    token = cross_attention.naming_token(expected.tokens)  # the page's default token; last layer, mean of heads
    drawn = _by_title(at)
    for method, values in expected.maps().items():
        np.testing.assert_allclose(heatmap_z(drawn[method]), values[token].reshape(expected.patches.shape),
                                   rtol=1e-3, atol=1e-6)
    _claims_shown(at, fusion_explanations.CLAIMS)
    assert fusion_explanations.NOTES["grad_x_attention"] in [c.value for c in at.caption]  # last layer: zero row
    at.segmented_control(key="fusion_token").set_value(0).run()  # [CLS]: its last-layer row does reach the answer
    assert not at.exception
    np.testing.assert_allclose(heatmap_z(_by_title(at)["grad_x_attention"]),
                               expected.grad_x_attention()[0].reshape(expected.patches.shape), rtol=1e-3, atol=1e-6)
    assert fusion_explanations.NOTES["grad_x_attention"] not in [c.value for c in at.caption]


def test_listening_token_explanations_are_curves_over_the_clip():
    at = open_page("pages/listen.py")
    at = _open(at, "listen_explain")
    heard = heard_directly("listen", SPOKEN.path.read_bytes())
    loaded = bundled("listen")
    samples = audio_in.load_audio(page_wav(SPOKEN.path.read_bytes()), "clip.wav").samples
    expected = relevancy_listening.explain_token(loaded.model, loaded.processor, samples, heard.decoder_ids,
                                                 len(heard.prompt_tokens), 0, heard.frames).maps()
    expected["raw"] = heard.alignment_mean()  # the page's default view: the timing heads
    drawn = _by_title(at)
    for method in METHODS:
        y = decode(drawn[method]["data"][0]["y"])
        assert len(y) == heard.frames, method
        np.testing.assert_allclose(y, expected[method][0], rtol=1e-3, atol=1e-4)  # the figure keeps 4 decimals
    _claims_shown(at, listening_explanations.CLAIMS)
