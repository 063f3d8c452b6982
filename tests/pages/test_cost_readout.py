"""Every page shows one cost line for its result, on the bundled pack: the model's tokens, attention weights,
FLOPs and time, "computed now" on the run that computed it and "served from cache now" on the next run."""
from __future__ import annotations

import re

import pytest

from components.service import models
from core.classroom.page_table import PAGE_TABLE
from tests.pages.test_pages import open_page

LINE = re.compile(r"attention weights [\d.]+( [kMGT])?.* · [\d.]+ [kMGT]?FLOP · [\d.]+ (ms|s)"
                  r"(, computed now| when computed; served from cache now)$")


def cost_lines(at) -> list[str]:
    return [c.value for c in at.caption if "**Cost**" in c.value]


@pytest.mark.parametrize("page", [spec.script for spec in PAGE_TABLE])
def test_every_page_shows_one_cost_line(page):
    at = open_page(page)
    lines = cost_lines(at)
    assert len(lines) == 1, lines
    assert LINE.search(lines[0]), lines[0]
    media = "audio frames 1,500" if page == "pages/listen.py" else "image tokens "
    assert media in lines[0]
    if page in ("pages/cross_attention.py", "pages/listen.py"):  # text reads the image or the sound
        assert "text tokens " in lines[0] and ", cross " in lines[0]


def test_the_run_that_computes_says_so_and_the_next_run_is_served_from_the_cache():
    models.fuse.clear()
    at = open_page("pages/early_fusion.py")
    assert cost_lines(at)[0].endswith(", computed now")
    assert "image tokens " in cost_lines(at)[0] and "patches + CLS, in one stream" in cost_lines(at)[0]
    at.run()  # a rerun (any widget change): the same result, from the cache
    assert cost_lines(at)[0].endswith("when computed; served from cache now")


def test_caption_mode_has_its_own_cost_line():
    at = open_page("pages/cross_attention.py")
    at.segmented_control(key="cross_mode").set_value("Caption the image").run()
    assert not at.exception
    lines = cost_lines(at)
    assert len(lines) == 1 and "text tokens: the words written" in lines[0] and ", cross " in lines[0]
