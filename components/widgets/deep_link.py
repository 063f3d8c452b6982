"""Shareable links: the view lives in the URL's query parameters, and opening a link restores it.

app.py calls `follow` right after st.navigation (once per session it reads the link, fills the sidebar's
widgets and switches to the linked page) and `share_slot` after the sidebar. A page calls `apply_view` before
its own widgets (the link's layer/head/token/patch go into them) and `publish` after them (the URL bar and the
sidebar's "Share this view" box then show the page's current view). Presets use the same path: `load`.
"""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from components.widgets import inputs
from core.classroom.deep_link import UPLOADED, View, base_url, from_query, link, to_query
from core.classroom.page_table import NAMES, page
from core.inputs import images

_DONE, _PENDING, _PAGE, _SLOT, _UPLOAD_NOTE = ("_link_followed", "_link_pending", "_link_page", "_link_slot",
                                               "_link_upload_note")


def load(view: View) -> None:
    """Put a view's inputs into the sidebar's widget keys and keep its page part for `apply_view`.

    Call it before the sidebar's widgets exist on this run: from `follow`, or from a button's on_click."""
    if view.pack is not None:
        st.session_state["pack"] = view.pack
    if view.image == UPLOADED:
        st.session_state["image_source"] = inputs.UPLOAD
        st.session_state[_UPLOAD_NOTE] = True
    elif view.image is not None:
        sample = images.samples().get(view.image)
        if sample is None:
            st.toast(f"The link's image “{view.image}” is not available here; keeping the current image.")
        else:
            st.session_state["image_source"] = view.image
            if view.text is None:
                st.session_state["text"] = sample.question
    if view.text is not None:
        st.session_state["text"] = view.text
    if view.predict and view.page in NAMES:  # a fresh question, even if this one was answered before
        st.session_state.pop(page(view.page).key("q_for"), None)
    st.session_state[_PENDING] = view.page_part()


def follow(pages: list, current) -> None:
    """Once per session: restore the view in the URL and go to its page (`page=` on the home route)."""
    st.session_state[_PAGE] = current.url_path
    if st.session_state.get(_DONE):
        return
    st.session_state[_DONE] = True
    view = from_query(st.query_params)
    if view == View():
        return
    if view.page is None:  # a path-style link (/cross-attention?layer=1): the page is the one opened
        view = replace(view, page=current.url_path or None)
    load(view)
    target = next((p for p in pages if p.url_path == view.page), None)
    if target is not None and target.url_path != current.url_path:
        st.switch_page(target, query_params=to_query(view))


def apply_view(page_name: str, layers: list = (), heads: list = (), n_tokens: int | None = None,
               n_patches: int | None = None) -> View | None:
    """Once, on the page a link (or preset) names: put its layer, head, token, patch and predict mode into this
    page's widget keys (core.classroom.page_table: key("layer") and so on). Values the page cannot show are dropped.
    Returns the view that was applied, or None."""
    pending: View | None = st.session_state.get(_PENDING)
    if pending is None or pending.page != page_name:
        return None
    del st.session_state[_PENDING]
    spec = page(page_name)
    checks = {
        "layer": pending.layer in layers,
        "head": pending.head in heads,
        "token": n_tokens is not None and pending.token is not None and pending.token < n_tokens,
        "patch": n_patches is not None and pending.patch is not None and pending.patch < n_patches,
        "predict": pending.predict is not None,
    }
    for name, ok in checks.items():
        if ok:
            st.session_state[spec.key(name)] = getattr(pending, name)
    return pending


def current_view(**page_choices) -> View:
    """The view on screen: the sidebar's inputs, the page, and the page's own choices (layer=..., token=...)."""
    now = inputs.current()
    uploaded = now.image_name in (inputs.UPLOAD, inputs.CAMERA)
    page = st.session_state.get(_PAGE) or None
    return View(page=page, image=UPLOADED if uploaded else now.image_name, text=now.text, pack=now.pack,
                **page_choices)


def share_slot() -> None:
    """app.py: draw the sidebar's "Share this view" box once per run, with a placeholder for its link, and fill it
    with the inputs-level view (pages that stop early, e.g. waiting for an upload, still get a link).

    A page's `publish` refills only that placeholder, one element. Refilling a placeholder with nested containers
    blanked the browser's page: when the server is busy, Streamlit folds a message for a place into an older one for
    the same place still waiting in the queue, so a child could arrive before the container it belongs in
    (tests/pages/test_page_delivery.py)."""
    box = st.sidebar.expander("Share this view", icon=":material/link:")
    st.session_state[_SLOT] = box.empty()
    box.caption("Copy it with the button at the box's top right. It restores the page, image, text, pack and the "
                "selected layer, head, token and patch.")
    if current_view().image == UPLOADED:
        box.caption("Your image is an upload: uploads cannot travel in a link, so whoever opens it is asked to "
                    "upload their own copy.")
    if st.session_state.get(_UPLOAD_NOTE) and inputs.current().image_png is None:
        st.sidebar.info("This link was made with an uploaded image, which a link cannot carry: upload it "
                        "(or pick a sample) to continue.")
    publish()


def publish(**page_choices) -> str:
    """Write the current view into the URL bar and the link in the sidebar's "Share this view" box; returns the
    link."""
    view = current_view(**page_choices)
    params = to_query(replace(view, page=None))  # the path already names the page
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    url = link(base_url(st.context.url, st.session_state.get(_PAGE) or ""), view)
    slot = st.session_state.get(_SLOT)
    if slot is not None:
        slot.code(url, language=None, wrap_lines=True)
    return url
