"""A view of the app as URL query parameters, and back: what a shared link carries.

A link names the page, the image (a sample's name, or "uploaded": an upload's bytes cannot travel in a URL), the
text, the model pack, and the page's own choices (layer, head, selected token and patch, predict-first mode).
Reading a link is lenient: a value that does not parse is dropped, never an error, because links get typed,
truncated and edited by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping
from urllib.parse import urlencode

from core.attention import HEAD_MAX, HEAD_MEAN, LAYER_MEAN
from core.classroom.page_table import find

UPLOADED = "uploaded"  # the image field's value when the view's image is an upload or a camera photo
MAX_TEXT = 200  # = core.inputs.text_limits.MAX_TEXT_CHARS, the sidebar's limit (not imported: that module loads models)


@dataclass(frozen=True)
class View:
    """Everything a link can restore. None means "not in the link": the app keeps its own default."""
    page: str | None = None  # a page's name (core.classroom.page_table); None is the home page
    image: str | None = None  # a sample's name, or UPLOADED
    text: str | None = None  # the question or caption
    pack: str | None = None  # "hub" or "bundled"
    layer: int | str | None = None  # a layer index or LAYER_MEAN
    head: int | str | None = None  # a head index, HEAD_MEAN or HEAD_MAX
    token: int | None = None  # index of the selected text token
    patch: int | None = None  # index of the selected patch, reading order
    predict: bool | None = None  # open the page in predict-then-reveal mode

    def page_part(self) -> "View":
        """Only the choices that belong to one page (what a page restores into its own widgets)."""
        return View(page=self.page, layer=self.layer, head=self.head, token=self.token, patch=self.patch,
                    predict=self.predict)


def _index(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def _layer(value: str) -> int | str | None:
    return LAYER_MEAN if value == LAYER_MEAN else _index(value)


def _head(value: str) -> int | str | None:
    return value if value in (HEAD_MEAN, HEAD_MAX) else _index(value)


def _flag(value: str) -> bool | None:
    return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(value.lower())


_READERS = {
    "page": lambda v: page.name if (page := find(v)) else None,  # any name a user sees: Patching, patching
    "image": lambda v: v or None,
    "text": lambda v: v[:MAX_TEXT],
    "pack": lambda v: v if v in ("hub", "bundled") else None,
    "layer": _layer,
    "head": _head,
    "token": _index,
    "patch": _index,
    "predict": _flag,
}


def from_query(params: Mapping[str, str | list[str]]) -> View:
    """Query parameters (as st.query_params or AppTest give them) -> a View; unknown or bad values are dropped."""
    values = {}
    for name, read in _READERS.items():
        raw = params.get(name)
        if isinstance(raw, list):  # a repeated key: the last one wins, as in st.query_params
            raw = raw[-1] if raw else None
        if raw is not None:
            values[name] = read(str(raw))
    return View(**values)


def to_query(view: View) -> dict[str, str]:
    """A View -> query parameters, in a stable order, leaving out what the view does not set."""
    out = {}
    for f in fields(view):
        value = getattr(view, f.name)
        if value is None:
            continue
        out[f.name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return out


def link(base_url: str, view: View) -> str:
    """The shareable URL: the app's home route with the page in `page=`.

    The home route, not /cross-attention: a server's very first run of an app with a pages/ folder looks the
    path up among the folder's file names and shows "Page not found" once; `page=` never does.
    """
    query = urlencode(to_query(view))
    return base_url.rstrip("/") + "/" + (f"?{query}" if query else "")


def base_url(current_url: str | None, page_path: str) -> str:
    """The app's root from the browser's URL of the current page (st.context.url ends with the page's path)."""
    if not current_url:
        return "http://localhost:8501"
    url = current_url.split("?")[0].rstrip("/")
    if page_path and url.endswith("/" + page_path):
        url = url[: -len(page_path) - 1]
    return url
