"""bench/protocol_client.py renders what Chromium renders: the classroom bench's protocol client (Streamlit's websocket
protocol, no browser) and Debian's chromium open the same links on one `streamlit run app.py` (the harness of
tests/browser/test_browser.py) and must show the same page, answer area, headings, texts and number of charts.

The links are bench/classroom.py's own: scenario (a)'s preset link, and one of scenario (b)'s questions.
"""
from __future__ import annotations

import pytest

from tests.browser.test_browser import browser, server  # noqa: F401

pytest.importorskip("websockets", reason="the protocol client speaks Streamlit's websocket with `websockets`")

from bench import protocol_client as pc  # noqa: E402
from bench.classroom import ANSWER, scenario_urls  # noqa: E402


def _links(base: str) -> list[tuple[str, tuple[str, str]]]:
    (page_a, url_a), = scenario_urls("a", 1, base)
    page_b, url_b = scenario_urls("b", 3, base)[2]  # "how many objects?": a different answer from (a)'s
    return [(url_a, ANSWER[page_a]), (url_b, ANSWER[page_b])]


def test_the_protocol_client_sees_what_chromium_shows(server, browser):  # noqa: F811
    results = pc.check_same(_links(server), browser, timeout_s=120)
    answers = set()
    for url, ours, chromium in results:
        assert ours.page == chromium.page == "cross-attention", url
        assert ours.answer_area and ours.answer_area[0].startswith("Answer: "), (url, ours.answer_area)
        assert ours.answer_area == chromium.answer_area, url
        assert ours.headings == chromium.headings, url
        assert ours.charts == chromium.charts > 0, url
        assert ours.texts == chromium.texts, url
        answers.add(ours.answer_area[0])
    assert len(answers) == 2, answers  # two questions, two answers: the question really travelled in the link


def test_a_visit_times_the_first_answer_and_the_end_of_the_run(server):  # noqa: F811
    """The readiness criterion fires on the answer heading, before the run ends; a page the app does not have is an
    error, as "Page not found" is for the browser bench."""
    (url, ready), = _links(server)[:1]
    v, = pc.visit_all([(url, ready)], 120)
    assert v.error is None and v.answer_s is not None and v.done_s is not None
    assert 0 < v.answer_s <= v.done_s
    assert v.websockets == 1 and v.connection == "ok" and v.closed_early == 0
    assert "_streamlit_xsrf" in v.cookies  # the index page's cookie, sent back as the websocket's XSRF subprotocol
    missing, = pc.visit_all([(server + "/no-such-page", ready)], 60)
    assert missing.answer_s is None and missing.error == "Page not found"
