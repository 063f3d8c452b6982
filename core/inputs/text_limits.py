"""Text in: the question or caption a student types, cleaned and cut to what the models can read, with a note.

Two limits, both here:
- `MAX_TEXT_CHARS` characters, before any tokenizer runs (the sidebar box also enforces it in the browser);
- each model's maximum number of tokens (`max_tokens`). The sidebar's text feeds several models, so it is cut to
  the tightest one of the live pack and every page sees the same words.

Cleaning removes control characters and the invisible bidi overrides (which can make text display in a different
order from what the model reads), and joins a text of several lines into one, with a note; emoji and right-to-left
scripts are kept (the tokenizer maps what it does not know to [UNK]). Nothing here renders anything:
`escape_markdown` is for the pages, which must show user text as text, never as markup or HTML.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from core.models import registry
from core.models.roles import ROLE_TABLE

MAX_TEXT_CHARS = 200  # every model here reads <= 77 tokens (ViLT: 40); 200 characters is already past that
TEXT_ROLES = ("vqa", "fusion", "clip")  # the models that read the sidebar's text
# from the checkpoints' configs (max_position_embeddings, in the role table), used when no tokenizer says less
HUB_MAX_TOKENS = {r.name: r.max_tokens for r in ROLE_TABLE}
_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&])")


@dataclass(frozen=True)
class FittedText:
    text: str  # what the models read
    notes: tuple[str, ...]  # one sentence per change, for the user
    n_tokens: int  # tokens of the original (cleaned) text, specials included; 0 when not counted


def clean(text: str, max_chars: int = MAX_TEXT_CHARS) -> tuple[str, list[str]]:
    """NFC-normalise, drop control and bidi-override characters, join lines into one, squeeze whitespace, cap the
    length. Every change that the student could not see coming gets a note."""
    notes: list[str] = []
    text = unicodedata.normalize("NFC", text or "")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r ")
    # invisible format characters (zero-width space, bidi overrides, BOM); the zero-width joiner builds emoji
    bidi = sum(1 for ch in text if unicodedata.category(ch) == "Cf" and ch != "\u200d")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf" or ch == "\u200d")
    lines = sum(1 for line in _LINE_BREAK.split(text) if line.strip())  # blank lines (a final Enter) do not count
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    if controls or bidi:
        notes.append(f"Removed {controls + bidi} invisible control character(s) from the text.")
    if lines > 1:  # a pasted paragraph, or a shared link's text: the models read one line
        notes.append(f"The text had {lines} lines; they were joined into one.")
    text = " ".join(text.split())
    if len(text) > max_chars:
        notes.append(f"The text had {len(text)} characters; only the first {max_chars} are used.")
        text = text[:max_chars].rstrip()
    return text, notes


def max_tokens(tokenizer, role: str) -> int:
    """The most tokens (specials included) this model reads: the tokenizer's own limit, capped by the config's."""
    limit = getattr(tokenizer, "model_max_length", None) or 10 ** 9
    return int(min(limit, HUB_MAX_TOKENS.get(role, limit)))


def fit(text: str, tokenizer, limit: int) -> tuple[str, int, int]:
    """Cut `text` at a token boundary so that it, with the special tokens, is at most `limit` tokens.
    Returns (text, the original's token count, how many of its tokens are [UNK])."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    ids = encoded["input_ids"]
    unknown = sum(1 for i in ids if i == tokenizer.unk_token_id) if tokenizer.unk_token_id is not None else 0
    n_special = tokenizer.num_special_tokens_to_add(pair=False)
    n_tokens = len(ids) + n_special
    budget = limit - n_special
    if n_tokens <= limit or budget <= 0:
        return text, n_tokens, unknown
    end = encoded["offset_mapping"][budget - 1][1]
    return text[:end].rstrip(), n_tokens, unknown


@lru_cache(maxsize=16)
def _tokenizer(pack: str, role: str):
    """The tokenizer alone (no weights), or None when it cannot be had (not on disk and no hub, a damaged file).
    Cached either way: loading it is decided once per process, not once per keystroke."""
    if pack == "hub" and registry.hub_unavailable(role):
        return None
    try:
        return registry.load_tokenizer(pack, role)
    except Exception:  # noqa: BLE001 - any failure means "use the bundled tokenizer"
        if pack == "bundled":
            raise
        return None


def tokenizer_for(pack: str, role: str):
    """The live pack's tokenizer, or the bundled one when the hub's cannot be had (then the bundled model runs)."""
    tokenizer = _tokenizer(pack, role)
    return (tokenizer, pack) if tokenizer is not None else (_tokenizer("bundled", role), "bundled")


@lru_cache(maxsize=256)  # the sidebar fits its text on every rerun: tokenize a text once, not per layer change
def prepare(text: str, pack: str, roles: tuple[str, ...] = TEXT_ROLES) -> FittedText:
    """Clean the text, then cut it to the tightest token limit among `roles` of the pack, naming that model."""
    text, notes = clean(text)
    if not text:
        return FittedText("", tuple(notes), 0)
    shortest, n_tokens, who, unknown_note = text, 0, "", ""
    for role in roles:
        tokenizer, live_pack = tokenizer_for(pack, role)
        limit = max_tokens(tokenizer, role)
        cut, count, unknown = fit(text, tokenizer, limit)
        label = registry.spec(live_pack, role).label
        n_tokens = max(n_tokens, count)
        if unknown and not unknown_note:
            unknown_note = (f"{unknown} piece(s) of the text are not in the vocabulary of {label} (emoji, other "
                            "scripts, rare symbols): it reads each as [UNK].")
        if len(cut) < len(shortest):
            shortest, who = cut, f"{label} reads at most {limit} tokens and this text is {count}"
    if who:  # the note never quotes the user's text: it is shown as markup, the text box shows the text
        notes.append(f"The text is too long: {who}, so every page uses only its first {len(shortest)} characters.")
    if unknown_note:
        notes.append(unknown_note)
    return FittedText(shortest, tuple(notes), n_tokens)


def escape_markdown(text: str) -> str:
    """User text inside st.markdown/st.caption: every markdown, LaTeX ($) and HTML character shown literally."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
