"""One table of pages: everything that names a page agrees with it, and a link may call a page by any name a user
sees (AppTest opens the app with the link's query parameters)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.classroom import lesson, page_table, presets
from tests.conftest import ROOT


def test_every_page_has_a_script_a_lesson_and_distinct_names():
    names = [p.name for p in page_table.PAGE_TABLE]
    assert len(set(names)) == len(names) == len(page_table.PAGE_TABLE)
    for spec in page_table.PAGE_TABLE:
        assert (ROOT / spec.script).is_file(), spec.script
        assert Path(spec.script).stem != spec.name  # else AppTest.switch_page runs the file without app.py
        assert lesson.lesson(spec.name).idea
    assert set(lesson.LESSONS) == set(names)
    assert set(presets.PRESETS) <= set(names)
    every_alias = [alias for spec in page_table.PAGE_TABLE for alias in spec.aliases]
    assert len(every_alias) == len(set(every_alias)), "two pages answer to the same name"


@pytest.mark.parametrize("word, name", [
    ("patches", "patches"), ("patching", "patches"), ("Patching", "patches"),
    ("cross_attention", "cross-attention"), ("Cross-attention", "cross-attention"), ("CLIP space", "clip-space"),
    ("clip", "clip-space"), ("early_fusion", "early-fusion"), ("nowhere", None), ("", None),
])
def test_a_link_may_name_a_page_by_what_a_user_sees(word, name):
    found = page_table.find(word)
    assert (found.name if found else None) == name


def test_the_home_page_lists_every_page_from_the_table():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    text = "\n".join(m.value for m in at.markdown)
    for spec in page_table.PAGE_TABLE:
        assert f"| **{spec.title}** | {spec.idea} | {spec.model} |" in text


def open_link(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_patching_opens_the_patching_page():
    """?page=patching used to open Home without a word: the page's URL path is "patches"."""
    assert open_link(page="patching").title[0].value.startswith("Patching")
    assert open_link(page="Early fusion").title[0].value.startswith("Early fusion")


def test_a_clip_space_link_with_predict_opens_in_predict_mode():
    at = open_link(page="clip-space", predict="1")
    assert at.title[0].value.startswith("CLIP space")
    assert at.toggle(key=page_table.page("clip-space").key("predict")).value is True
    assert at.radio(key=page_table.page("clip-space").key("q") + "_guess")  # the question waits for a guess
    assert at.query_params.get("predict") == ["1"] or at.query_params.get("predict") == "1"  # published back


def test_pages_do_no_token_bookkeeping_and_say_mean_through_the_enum():
    """The issue's rule for page scripts: no CLS offsets written by hand, no bare "mean" outside core.attention."""
    import re

    from core.attention import HEAD_MAX, LAYER_MEAN
    from core.classroom.deep_link import View, to_query

    for spec in page_table.PAGE_TABLE:
        source = (ROOT / spec.script).read_text()
        assert not re.search(r"\[0, 1:\]|\b1 \+ (patch|p)\b|, 1:\]", source), spec.script
        assert '"mean"' not in source and "'mean'" not in source, spec.script
    assert to_query(View(layer=LAYER_MEAN, head=HEAD_MAX)) == {"layer": "mean", "head": "max"}


def test_every_page_script_stays_short():
    """STYLE.md: pages read widgets, call core/, call components/ and stay short; sections live in components/."""
    for spec in page_table.PAGE_TABLE:
        lines = (ROOT / spec.script).read_text().splitlines()
        assert len(lines) <= 80, f"{spec.script} has {len(lines)} lines; move a section into components/"
