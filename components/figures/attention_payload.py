"""The attention explorer's payload: every layer's and head's attention maps in one compact binary message.

Pure numpy (no Streamlit), so the encoding is tested on its own. The browser gets the payload once per result and
draws every view from it (components/widgets/attention_explorer.py): no script rerun for a hover, a layer or a head.

Layout (all integers little-endian):
    b"AEX1" | uint32 header length | header (UTF-8 JSON) | zero padding to 4 bytes | sections
The header names each section's [offset, length] in bytes from the start of the payload:
    "maps":   uint8 (layers, heads, queries, keys), C order; value = q / 255 * scale[layer, head]
    "scales": float32 (layers, heads); each (layer, head) view's largest weight, so q = 255 is that view's maximum
    "summary": float32 (len(header["summary"]), layers, heads); one number per (layer, head) for each name in
              header["summary"] (SUMMARIES: entropy, spread, mass), from the float maps before quantisation
    "image":  PNG or JPEG bytes (absent when there is no image), header "image_mime" says which
    "maps.1", "scales.1", "summary.1": the reverse direction, when there is one (early fusion's image -> text:
              the keys read the queries). header["directions"] names both (["text->image", "image->text"]). Its
              maps are stored in the explorer's own (rows, columns) = (queries, keys) layout, i.e. transposed:
              uint8 (layers, heads, queries, keys), value [l, h, q, k] = how much key k (now the query: a patch)
              put on q (a word), so the browser draws both directions with the same code; its scales are its own
              views' maxima (a transpose keeps them) and its summaries come from the untransposed maps (a patch's
              weights over the words: keys on a strip).
Per-view scales keep a quiet head readable (one global scale would leave it a few levels of grey) and make the
colour scale of a view fixed: the view's max is known before any query is hovered.

Size: BLIP's 12 layers x 12 heads x 10 tokens x 576 patches is 829,440 bytes of maps + 576 bytes of scales + the
image (a 384 px JPEG: ~20-40 KB) + 3 x 144 x 4 bytes of summaries; raw bytes, not base64, so ~0.9 MB a result.
A reverse direction adds the same again for its maps (one byte a weight): ViLT's text <-> image both ways is
2 x 12 x 12 x T x rows * cols bytes, e.g. 2 x 12 x 12 x 10 x 144 = 415 KB for 10 words and 12 x 12 patches.
"""
from __future__ import annotations

import hashlib
import io
import json
import struct
from dataclasses import dataclass

import numpy as np

from core.attention import select

MAGIC = b"AEX1"
LEVELS = 255  # uint8: the quantisation step of a view is its scale / 255
JPEG_QUALITY = 90


def quantise(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, H, Q, K) float -> (uint8 (L, H, Q, K), float32 scales (L, H)). Round-trip error <= scale / 510."""
    if maps.ndim != 4:
        raise ValueError(f"expected (layers, heads, queries, keys), got shape {maps.shape}")
    values = np.asarray(maps, dtype=np.float32)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("attention maps must be finite and non-negative")
    scales = values.max(axis=(2, 3)).astype(np.float32)  # (L, H)
    safe = np.where(scales > 0, scales, 1.0)[:, :, None, None]
    codes = np.rint(values / safe * LEVELS).clip(0, LEVELS).astype(np.uint8)  # (L, H, Q, K)
    return codes, scales


def dequantise(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(L, H, Q, K) uint8, (L, H) -> float32 (L, H, Q, K)."""
    return codes.astype(np.float32) * (scales[:, :, None, None] / LEVELS)


def view(maps: np.ndarray, layer, head) -> np.ndarray:
    """(L, H, Q, K) -> (Q, K), exactly as the browser computes a view: a layer index or "mean"; a head index,
    "mean" or "max" (the mean over layers first, then the head reduction: core.attention.select's order)."""
    return select(maps, layer, head)


SUMMARIES = ("entropy", "spread", "mass")  # the layer x head grid's numbers, in the "summary" section's order


def head_summaries(maps: np.ndarray, key_grid: tuple[int, int] | None) -> dict[str, np.ndarray]:
    """(L, H, Q, K) maps -> {name: (L, H) float32}, one number per head, each averaged over the queries:
    entropy: bits of a query's weights over these keys (renormalised to sum to 1): 0 = one key, log2(K) = uniform.
    spread: the weighted mean distance of the attended keys from their weighted centre, in patches on the grid
        (keys on a strip, key_grid None: in keys). The queries are tokens, not patches, so there is no query
        position to measure from: the spread is how wide the attended region is, wherever it lies.
    mass: the query's row sum, the share of its attention that lands on these keys at all; below 1 when the keys
        are part of a longer sequence (BLIP's token -> patch rows drop the CLS key; an early-fusion text row also
        attends to text). Rows that sum to 0 count as mass 0 and are left out of entropy and spread."""
    values = np.asarray(maps, dtype=np.float64)  # (L, H, Q, K)
    n_keys = values.shape[-1]
    mass = values.sum(axis=-1)  # (L, H, Q)
    live = mass > 0
    p = values / np.where(live, mass, 1.0)[..., None]  # (L, H, Q, K), rows renormalised
    entropy = -(p * np.log2(np.where(p > 0, p, 1.0))).sum(axis=-1)  # (L, H, Q)
    if key_grid is None:
        coords = np.arange(n_keys, dtype=np.float64)[:, None]  # (K, 1): a key's place on the strip
    else:
        rows, cols = np.divmod(np.arange(n_keys), key_grid[1])
        coords = np.stack([rows, cols], axis=1).astype(np.float64)  # (K, 2): a patch's (row, col)
    centre = p @ coords  # (L, H, Q, 2) or (..., 1): the weighted centre
    distance = np.sqrt(((coords - centre[..., None, :]) ** 2).sum(axis=-1))  # (L, H, Q, K)
    spread = (p * distance).sum(axis=-1)  # (L, H, Q)

    def over_queries(x: np.ndarray) -> np.ndarray:  # (L, H, Q) -> (L, H), the live rows' mean
        count = live.sum(axis=-1)
        return np.where(count > 0, (x * live).sum(axis=-1) / np.maximum(count, 1), 0.0).astype(np.float32)

    return {"entropy": over_queries(entropy), "spread": over_queries(spread),
            "mass": mass.mean(axis=-1).astype(np.float32)}


def image_bytes(image: np.ndarray) -> tuple[bytes, str]:
    """(H, W, 3) uint8 -> (bytes, mime): PNG for drawn scenes (flat colours), JPEG for photos when PNG is more
    than twice its size (patch_overlay's rule)."""
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    png, jpeg = io.BytesIO(), io.BytesIO()
    picture.save(png, format="PNG")
    picture.save(jpeg, format="JPEG", quality=JPEG_QUALITY)
    if len(png.getvalue()) > 2 * len(jpeg.getvalue()):
        return jpeg.getvalue(), "image/jpeg"
    return png.getvalue(), "image/png"


DIRECTIONS = ("text->image", "image->text")  # a payload with `reverse`: the forward maps' name, the reverse's


def encode(maps: np.ndarray, query_labels: list[str], key_grid: tuple[int, int] | None = None,
           image: np.ndarray | None = None, title: str = "", selected: dict | None = None,
           key_labels: list[str] | None = None, name: str = "", reverse: np.ndarray | None = None,
           directions: tuple[str, str] = DIRECTIONS) -> bytes:
    """The payload for (L, H, Q, K) maps. key_grid: (rows, cols) when the keys are image patches in reading order
    (rows * cols == K); None draws the keys as a 1-D strip (audio frames). selected: the view to open with,
    {layer, head, query, key, direction} (any may be missing). name: the explorer's name in the page (its widget
    key), for tests and the benchmark (window.__aex[name]). reverse: (L, H, K, Q), the other direction (each key
    reading the queries: early fusion's patches reading the words), for the explorer's direction switch;
    directions: the two directions' names, forward first.

    header["digest"] names the result (maps, labels, grid, image, title): the browser keeps its explorer, and the
    user's place in it, while the digest stays the same; only `selected` changing moves the view."""
    codes, scales = quantise(maps)
    n_layers, n_heads, n_queries, n_keys = codes.shape
    if len(query_labels) != n_queries:
        raise ValueError(f"{len(query_labels)} query labels for {n_queries} queries")
    if key_grid is not None and key_grid[0] * key_grid[1] != n_keys:
        raise ValueError(f"{n_keys} keys do not fill a {key_grid[0]}x{key_grid[1]} grid")
    if key_labels is not None and len(key_labels) != n_keys:
        raise ValueError(f"{len(key_labels)} key labels for {n_keys} keys")
    summary = head_summaries(maps, key_grid)
    sections = {"maps": codes.tobytes(), "scales": scales.astype("<f4").tobytes(),
                "summary": np.stack([summary[name] for name in SUMMARIES]).astype("<f4").tobytes()}
    if reverse is not None:
        if np.shape(reverse) != (n_layers, n_heads, n_keys, n_queries):
            raise ValueError(f"reverse maps of shape {np.shape(reverse)} are not the {n_keys} keys reading the "
                             f"{n_queries} queries over {n_layers} layers x {n_heads} heads")
        back_codes, back_scales = quantise(reverse)  # (L, H, K, Q), its views' own scales
        back_summary = head_summaries(reverse, None)  # a patch's weights over the words: the words on a strip
        sections.update({"maps.1": np.ascontiguousarray(back_codes.transpose(0, 1, 3, 2)).tobytes(),
                         "scales.1": back_scales.astype("<f4").tobytes(),
                         "summary.1": np.stack([back_summary[n] for n in SUMMARIES]).astype("<f4").tobytes()})
    header = {"layers": n_layers, "heads": n_heads, "queries": n_queries, "keys": n_keys,
              "grid": list(key_grid) if key_grid is not None else None, "labels": [str(s) for s in query_labels],
              "key_labels": key_labels, "title": title, "selected": selected or {}, "name": name,
              "summary": list(SUMMARIES), "directions": list(directions) if reverse is not None else None}
    if image is not None:
        sections["image"], header["image_mime"] = image_bytes(image)
    digest = hashlib.blake2b(json.dumps([header["labels"], header["grid"], key_labels, title,
                                         header["directions"]]).encode(),
                             digest_size=12)
    for part in sections.values():
        digest.update(part)
    header["digest"] = digest.hexdigest()
    # offsets depend on the header's length, which depends on the offsets: lay out with a fixed-width placeholder
    order = list(sections)
    header["offsets"] = {name: [0, 0] for name in order}
    for _ in range(2):
        head = json.dumps(header, separators=(",", ":")).encode()
        start = _aligned(8 + len(head) + 32)  # slack so the final header (wider numbers) still fits
        offset = start
        for name in order:
            header["offsets"][name] = [offset, len(sections[name])]
            offset = _aligned(offset + len(sections[name]))
    head = json.dumps(header, separators=(",", ":")).encode()
    if 8 + len(head) > start:
        raise AssertionError("payload header outgrew its slot")  # cannot happen: the slack covers digit growth
    out = bytearray(offset)
    out[:8] = MAGIC + struct.pack("<I", len(head))
    out[8:8 + len(head)] = head
    for name in order:
        at, length = header["offsets"][name]
        out[at:at + length] = sections[name]
    return bytes(out)


def _aligned(n: int) -> int:
    return (n + 3) // 4 * 4


@dataclass
class Decoded:
    header: dict
    codes: np.ndarray  # (L, H, Q, K) uint8
    scales: np.ndarray  # (L, H) float32
    image: bytes | None
    summary: dict[str, np.ndarray]  # name -> (L, H) float32, head_summaries of the float maps
    reverse: Decoded | None = None  # the other direction: codes as stored, (L, H, Q, K) = transposed

    @property
    def maps(self) -> np.ndarray:
        return dequantise(self.codes, self.scales)

    @property
    def reading_maps(self) -> np.ndarray:
        """A reverse direction's maps in attention's own layout: (L, H, K, Q), each key's row over the queries."""
        return self.maps.transpose(0, 1, 3, 2)


def decode(payload: bytes) -> Decoded:
    """The inverse of `encode` (what the browser does), for tests."""
    if payload[:4] != MAGIC:
        raise ValueError("not an attention explorer payload")
    (length,) = struct.unpack("<I", payload[4:8])
    header = json.loads(payload[8:8 + length])
    shape = (header["layers"], header["heads"], header["queries"], header["keys"])

    def section(name: str) -> bytes:
        at, size = header["offsets"][name]
        return payload[at:at + size]

    names = header.get("summary", [])
    image = section("image") if "image" in header["offsets"] else None

    def direction(suffix: str) -> Decoded:
        codes = np.frombuffer(section("maps" + suffix), dtype=np.uint8).reshape(shape)
        scales = np.frombuffer(section("scales" + suffix), dtype="<f4").reshape(shape[:2])
        table = np.frombuffer(section("summary" + suffix), dtype="<f4").reshape(len(names), *shape[:2]) \
            if names else None
        return Decoded(header, codes, scales, image, {name: table[i] for i, name in enumerate(names)})

    out = direction("")
    if header.get("directions"):
        out.reverse = direction(".1")
    return out
