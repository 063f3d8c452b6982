"""The pages of the app, in one table: everything else that knows a page (the navigation, the home page's table,
shared links, the lesson's words, the presets, the benchmark, the tests) reads it from here.

A page has one name: its URL path (`/cross-attention`, `?page=cross-attention`), which also keys its lesson and
its presets. Its script lives in pages/ under a different file name on purpose: with a pages/ folder present,
AppTest.switch_page (and a server's very first run) would otherwise take the file for a page of its own, without
app.py's sidebar. A shared link may name a page by anything a user sees or types (`?page=Patching`,
`?page=patching`, `?page=cross_attention`): `find` accepts each of them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PageSpec:
    name: str  # the URL path; the key of its lesson (core/classroom/lesson.py) and presets (core/classroom/presets.py)
    title: str  # the sidebar's link and the home table's first column
    icon: str  # the sidebar's Material icon (Streamlit ships the font: nothing is fetched)
    script: str  # the page script, relative to the repo root
    keys: str  # the prefix of the page's widget keys: key("layer") -> "cross_layer"
    idea: str  # the home table's sentence: markdown
    model: str  # the home table's model column

    def key(self, field: str) -> str:
        """The session_state key of one of the page's widgets or states (layer, head, token, patch, predict, q)."""
        return f"{self.keys}_{field}"

    @property
    def aliases(self) -> frozenset[str]:
        """What a link may call this page: its name, its title, its script's name, its key prefix."""
        return frozenset(_slug(word) for word in (self.name, self.title, Path(self.script).stem, self.keys))


def _slug(word: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", word.strip().lower()).strip("-")


PAGE_TABLE: tuple[PageSpec, ...] = (
    PageSpec("patches", "Patching", ":material/grid_view:", "pages/patching.py", "patching",
             "a Vision Transformer cuts the image into a grid of patches and turns each into a vector",
             "CLIP's vision tower"),
    PageSpec("cross-attention", "Cross-attention", ":material/center_focus_strong:", "pages/cross_attention.py",
             "cross", "text tokens send queries to image patches; softmax(QKᵀ/√d_k)V gives each token a context "
             "vector", "BLIP VQA"),
    PageSpec("clip-space", "CLIP space", ":material/scatter_plot:", "pages/clip_space.py", "clip",
             "contrastive training puts an image and its caption at the same coordinates", "CLIP"),
    PageSpec("early-fusion", "Early fusion", ":material/merge_type:", "pages/early_fusion.py", "fusion",
             "text tokens and image patches in one stream, self-attention across modalities from layer 0", "ViLT"),
    PageSpec("listening", "Listening", ":material/hearing:", "pages/listen.py", "listen",
             "text tokens send queries to 20 ms audio frames: the same cross-attention, with sound as keys and "
             "values", "Whisper"),
)
NAMES = tuple(page.name for page in PAGE_TABLE)


def page(name: str) -> PageSpec:
    """The page of this name (its URL path); a KeyError names the pages there are."""
    for spec in PAGE_TABLE:
        if spec.name == name:
            return spec
    raise KeyError(f"no page {name!r}; the pages are {NAMES}")


def find(word: str | None) -> PageSpec | None:
    """The page a link's `page=` means, by any of its aliases, ignoring case and punctuation; None if none."""
    if not word:
        return None
    slug = _slug(word)
    return next((spec for spec in PAGE_TABLE if slug in spec.aliases), None)


def home_table() -> str:
    """The home page's markdown table of the pages, their ideas and models."""
    rows = [f"| **{p.title}** | {p.idea} | {p.model} |" for p in PAGE_TABLE]
    return "\n".join(["| page | the idea | model |", "|---|---|---|", *rows])
