"""The lesson's words on a page: the idea in plain language, its formulas, and a fold with the terms and further
reading. The text itself lives in core/classroom/lesson.py."""
from __future__ import annotations

import streamlit as st

from core.classroom.lesson import lesson


def formulas_at(page: str, where: str) -> None:
    """The page's formulas that belong to one section (`where` in core.classroom.lesson.Formula), with their meaning."""
    for formula in lesson(page).formulas:
        if formula.where == where:
            st.latex(formula.latex)
            st.caption(formula.meaning)


def lesson_intro(page: str) -> None:
    """Call right under the page's title. page: the url path (patches, cross-attention, clip-space, early-fusion).
    Shows the idea, the formulas marked "intro", and a fold with the terms and further reading."""
    words = lesson(page)
    st.markdown(words.idea)
    formulas_at(page, "intro")
    with st.expander("Terms and further reading", icon=":material/menu_book:"):
        st.markdown("\n".join(f"- **{term}**: {meaning}" for term, meaning in words.terms))
        st.markdown("**Further reading**\n\n" + "\n".join(
            f"- [{r.title}]({r.url}) ({r.authors}): {r.why}." for r in words.reading))
