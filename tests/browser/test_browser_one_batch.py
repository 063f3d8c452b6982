"""A page whose whole run reaches the browser in one batch (a busy server's worst case, made certain by
one_batch/sitecustomize.py) is drawn, not blanked: the real-browser side of tests/pages/test_page_delivery.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.test_browser import (  # noqa: F401
    PAGES,
    _assert_no_exception,
    _wait_until_idle,
    browser,
    start_streamlit,
    stop_streamlit,
)

HOLD = Path(__file__).resolve().parent / "one_batch"


@pytest.fixture(scope="module")
def batched_server():
    proc, url = start_streamlit(dict(os.environ, MMA_PACK="bundled", HF_HUB_OFFLINE="1", PYTHONPATH=str(HOLD)))
    yield url
    stop_streamlit(proc)


@pytest.mark.parametrize("link", ["Patching", "Early fusion"])  # the pages that refill the share box from a fragment
def test_a_page_sent_in_one_batch_is_drawn(batched_server, browser, link):  # noqa: F811
    title, charts = PAGES[link]
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(batched_server)
    page.get_by_role("heading", name=PAGES["Home"][0]).first.wait_for(timeout=60_000)
    _wait_until_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text(link, exact=True).click()
    chart = page.locator(".js-plotly-plot").nth(charts - 1)
    for _ in range(120):  # the page's charts, or the error that blanks it (old share box: "Cannot set a node at a
        if errors or chart.is_visible():  # delta path"), whichever comes first; two minutes at most
            break
        page.wait_for_timeout(1000)
    assert not errors, errors
    assert chart.is_visible(), f"{link}: {charts} charts expected, {page.locator('.js-plotly-plot').count()} drawn"
    _wait_until_idle(page)
    assert page.get_by_role("heading", name=title).count() == 1
    _assert_no_exception(page, f"{link}, sent in one batch")
    page.close()
