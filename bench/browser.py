"""Browser benchmark: what a user waits for, timed inside the page (`python -m bench.browser`).

    python -m bench.browser                         # everything below, bundled pack
    python -m bench.browser --pack hub              # the real pages with the hub pack's full-size models
    python -m bench.browser --pages patches,listening   # some of: harness, patches, patches-448,
                                                    # cross-attention, early-fusion, early-fusion-i2t,
                                                    # listening, old

The real pages' explorers (app.py served by `streamlit run`; with --pack hub by bench/full_size_app.py, which
installs bench/full_size.py's full-size hub architectures with random weights in the server process). Each page is
opened fresh (a new browser context: nothing cached) at `/?page=<name>`: Patching (`patches`: DINOv2 ViT-S/14's CLS
row on the cat photo at 224 px; `patches-448`: then the 448 px radio, 32 x 32 patches), Cross-attention (BLIP's
question token x patch), Early fusion (ViLT's text -> image rows of its joint map; `early-fusion-i2t`: the same
payload switched to image -> text in the browser, each patch's row over the words) and Listening (Whisper's token x
audio frame strip, in its expander). The first visit computes the models (minutes on 2 cores with --pack hub): no
time is taken until the explorer has painted and the page is idle. Then, for each page:
- hover-to-paint: the pointer moved alternately onto a token chip and onto the picture (a patch, or a point of the
  strip), `--events` of each; one sample per move;
- layer switch and head switch to paint: `--events` clicks each on the layer pills, then the head pills, every click
  a different value than the one before (a view's first visit includes computing it; revisits are cached);
each timed by the explorer itself (window.__aex[name].timings: event.timeStamp -> the requestAnimationFrame that
drew it -> a task after that frame), read back with Playwright;
- bytes: the component's payload (the AEX1 message found in the websocket frames: components/figures/
  attention_payload.py), and the page view's data up to the idle explorer: websocket frames plus HTTP responses
  other than /static/ (Streamlit's app bundle, cached by the browser after the first visit), and with the bundle.

Also, as before: the explorer harness (tests/browser/explorer_app.py; full-size BLIP shapes: 12 layers x 12 heads x
10 tokens x 576 patches on a 24 x 24 grid, and the bundled BLIP), hover and layer/head switch to paint the same way;
and for comparison the old path on pages/cross_attention.py: a token change with the "cross_token" segmented
control and a layer/head change with the "cross_layer"/"cross_head" selectboxes, click to repainted Plotly heatmap
(a server rerun each), timed with performance.now and requestAnimationFrame in the page as well.

Prints markdown tables and the machine line. Needs Debian's chromium and playwright (requirements-dev.txt). No
number is asserted; the targets (issue #17) are printed beside them.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
HARNESS = "tests/browser/explorer_app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(script: str = HARNESS, within_s: float = 120, pack: str = "bundled"):
    """`streamlit run <script>` on a free 127.0.0.1 port (hub offline); yields its URL. pack "hub": the hub pack's
    full-size models, through bench/full_size_app.py (full_size.install() in the server process)."""
    port = _free_port()
    env = dict(os.environ, MMA_PACK=pack, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "bench.full_size_app", script] if pack == "hub" else [
        sys.executable, "-m", "streamlit", "run", script]
    log = tempfile.TemporaryFile()  # not a pipe: a long run's warnings would fill it and stall the server
    proc = subprocess.Popen([*command, "--server.address", "127.0.0.1",
                             "--server.port", str(port), "--server.headless", "true"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.time() + within_s
        while True:
            try:
                with direct.open(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError("streamlit did not start:\n" + log.read().decode(errors="replace"))
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class ByteCounter:
    """Bytes the page received: HTTP response bodies (Content-Length or body size) and websocket frames; `static`:
    the HTTP part under /static/ (Streamlit's app bundle, cached after a first visit); `payloads`: the size of each
    attention explorer payload (AEX1, components/figures/attention_payload.py) found in a websocket frame."""

    def __init__(self, page):
        self.http = 0
        self.static = 0
        self.ws = 0
        self.hosts: set[str] = set()
        self.payloads: list[int] = []
        page.on("response", self._response)
        page.on("websocket", self._socket)

    def _response(self, response):
        from urllib.parse import urlsplit

        parts = urlsplit(response.url)
        if parts.scheme in ("http", "https"):  # not the explorer's own blob: image
            self.hosts.add(parts.hostname or "")
        try:
            length = response.headers.get("content-length")
            n = int(length) if length else len(response.body())
        except Exception:  # noqa: BLE001 - a redirect or an aborted request has no body
            return
        self.http += n
        if parts.path.startswith("/static/"):
            self.static += n

    def _socket(self, ws):
        ws.on("framereceived", self._frame)

    def _frame(self, payload):
        self.ws += len(payload)
        if isinstance(payload, (bytes, bytearray)) and PAYLOAD_MAGIC in payload:
            self.payloads.append(payload_size(payload))

    @property
    def total(self) -> int:
        return self.http + self.ws

    @property
    def data(self) -> int:
        """What the page view itself brought: websocket frames and HTTP other than the static app bundle."""
        return self.total - self.static


PAYLOAD_MAGIC = b"AEX1"


def payload_size(frame: bytes) -> int:
    """The AEX1 payload's own length inside a websocket frame (its header's sections end there); else the frame's."""
    at = frame.find(PAYLOAD_MAGIC)
    try:
        length = int.from_bytes(frame[at + 4:at + 8], "little")
        header = json.loads(frame[at + 8:at + 8 + length].decode())
        return max(offset + size for offset, size in header["offsets"].values())
    except (ValueError, KeyError, TypeError):
        return len(frame)


def explorer(page, name: str):
    """The explorer's root element (inside the component's shadow root; Playwright's CSS pierces it)."""
    return page.locator(f'.aex[data-name="{name}"]')


def wait_for_explorer(page, name: str, timeout_ms: int = 120_000):
    root = explorer(page, name)
    root.wait_for(timeout=timeout_ms)
    page.wait_for_function(f"() => window.__aex && window.__aex[{name!r}] && window.__aex[{name!r}].paints > 0",
                           timeout=timeout_ms)
    return root


def timings(page, name: str) -> dict[str, list[float]]:
    return page.evaluate(f"() => window.__aex[{name!r}].timings")


def _n(page, name: str, kind: str) -> int:
    return page.evaluate(f"() => window.__aex[{name!r}].timings[{kind!r}].length")


def _wait_count(page, name: str, kind: str, at_least: int, timeout_s: float = 5) -> None:
    deadline = time.time() + timeout_s
    while _n(page, name, kind) < at_least and time.time() < deadline:
        time.sleep(0.01)


def measure_explorer(page, name: str, events: int = 40) -> dict[str, list[float]]:
    """Hover tokens and patches alternately, then switch layers and heads, `events` of each."""
    root = wait_for_explorer(page, name)
    page.evaluate(f"() => {{ window.__aex[{name!r}].timings = {{hover: [], switch: [], work: []}}; }}")
    chips = root.locator(".aex-chip")
    picture = root.locator(".aex-image")
    box = picture.bounding_box()
    n_chips = chips.count()
    for i in range(events):
        before = _n(page, name, "hover")
        if i % 2 == 0:
            chip = chips.nth((i // 2) % n_chips).bounding_box()
            page.mouse.move(chip["x"] + chip["width"] / 2, chip["y"] + chip["height"] / 2)
        else:  # a patch: walk the image diagonally
            f = ((i * 7) % 23 + 0.5) / 24
            page.mouse.move(box["x"] + box["width"] * f, box["y"] + box["height"] * (1 - f))
        _wait_count(page, name, "hover", before + 1)
    layers = root.locator('.aex-pills[data-kind="layer"] .aex-pill')
    heads = root.locator('.aex-pills[data-kind="head"] .aex-pill')
    for i in range(events):
        before = _n(page, name, "switch")
        pills = layers if i % 2 == 0 else heads
        pills.nth((i * 5 + 1) % pills.count()).click()
        _wait_count(page, name, "switch", before + 1)
    return timings(page, name)


# ---- the real pages' explorers --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealPage:
    name: str  # --pages' name
    title: str  # the table's page column
    query: str  # the link that opens it: /?<query>
    explorer: str  # the explorer's key (the payload's name, .aex[data-name])
    model: str  # what computed the maps, for the table
    expander: str = ""  # the expander the explorer sits in: opened first
    choose: str = ""  # a radio option clicked once the page is up (a second payload): measured after it
    direction: str = ""  # the explorer's direction button clicked once it is up (in the browser, no rerun)


CAT = "image=" + quote("photo: cat")
REAL_PAGES = (
    RealPage("patches", "Patching (224 px)", f"page=patches&{CAT}", "patching_explorer", "DINOv2 ViT-S/14, CLS row"),
    RealPage("patches-448", "Patching (448 px)", f"page=patches&{CAT}", "patching_explorer",
             "DINOv2 ViT-S/14 at 448 px, CLS row", choose="448 px: 32 x 32 patches"),
    RealPage("cross-attention", "Cross-attention", "page=cross-attention", "cross_explorer", "BLIP VQA, token x patch"),
    RealPage("early-fusion", "Early fusion", "page=early-fusion", "fusion_explorer", "ViLT, text -> image"),
    RealPage("early-fusion-i2t", "Early fusion, image -> text", "page=early-fusion", "fusion_explorer",
             "ViLT, image -> text (the same payload)", direction="image->text"),
    RealPage("listening", "Listening", "page=listening", "listen_explorer", "Whisper base, token x frame",
             expander="Every layer and head at a glance"),
)
PAGE_NAMES = ("harness", *(p.name for p in REAL_PAGES), "old")
LOAD_TIMEOUT_MS = 900_000  # a first visit computes the page's models: minutes on 2 cores at full size
HOVER_TARGET_MS, SWITCH_TARGET_MS, PAGE_TARGET_BYTES = 50, 100, 2_000_000  # issue #17's acceptance


def explorer_shape(root) -> str:
    """layers x heads x queries x keys, read from the explorer's DOM (pills, chips, a head tile's canvas)."""
    layers = root.locator('.aex-pills[data-kind="layer"] .aex-pill').count() - 1  # "mean" + one per layer
    heads = root.locator('.aex-pills[data-kind="head"] .aex-pill').count() - 2  # "mean", "max" + one per head
    queries = root.locator(".aex-chip").count()
    tile = root.locator(".aex-tile canvas").first
    cols, rows = int(tile.get_attribute("width")), int(tile.get_attribute("height"))
    strip = "aex-strip" in (tile.get_attribute("class") or "")
    keys = f"{cols} frames (strip)" if strip else f"{rows * cols} patches ({rows} x {cols})"
    return f"{layers} x {heads} x {queries} x {keys}"


def _new_samples(page, name: str, kind: str, before: int, timeout_s: float = 10) -> list[float]:
    """The timings of `kind` recorded since `before` entries (waits for at least one)."""
    _wait_count(page, name, kind, before + 1, timeout_s)
    return page.evaluate(f"() => window.__aex[{name!r}].timings[{kind!r}].slice({before})")


def _point_at(page, locator, fx: float = 0.5, fy: float = 0.5) -> None:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def measure_real_explorer(page, name: str, events: int = 40) -> dict[str, list[float]]:
    """`events` hovers on tokens and as many on the picture (alternately), then `events` layer switches and
    `events` head switches: one sample per event (the slowest of what it set off: a move off a chip onto the
    picture is a pointerleave and a pointermove drawn in one frame)."""
    root = explorer(page, name)
    page.evaluate(f"() => {{ window.__aex[{name!r}].timings = {{hover: [], switch: [], work: []}}; }}")
    chips, picture = root.locator(".aex-chip"), root.locator(".aex-image")
    n_chips = chips.count()
    out: dict[str, list[float]] = {"token": [], "patch": [], "layer": [], "head": []}
    for i in range(2 * events):
        before = _n(page, name, "hover")
        if i % 2 == 0:
            _point_at(page, chips.nth((i // 2) % n_chips))
            kind = "token"
        else:  # a patch (or a point on the strip): walk the picture diagonally
            f = ((i * 7) % 23 + 0.5) / 24
            _point_at(page, picture, f, 1 - f)
            kind = "patch"
        new = _new_samples(page, name, "hover", before)
        if new:
            out[kind].append(max(new))
    page.mouse.move(1, 1)
    for kind in ("layer", "head"):
        pills = root.locator(f'.aex-pills[data-kind="{kind}"] .aex-pill')
        count = pills.count()
        if kind == "head":  # from the last layer, as the page opens
            pills_l = root.locator('.aex-pills[data-kind="layer"] .aex-pill')
            pills_l.nth(pills_l.count() - 1).click()
            time.sleep(0.3)
        current = next((j for j in range(count) if "on" in (pills.nth(j).get_attribute("class") or "").split()), 0)
        for i in range(events):
            current = (current + 1 + (i % 3 == 2 and count > 2)) % count  # never the same; not always the next
            before = _n(page, name, "switch")
            pills.nth(current).click()
            new = _new_samples(page, name, "switch", before)
            if new:
                out[kind].append(max(new))
    return out


def _wait_keys_change(root, before: str, timeout_s: float) -> None:
    tile = root.locator(".aex-tile canvas").first
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if f"{tile.get_attribute('width', timeout=5_000)}x{tile.get_attribute('height', timeout=5_000)}" != before:
                return
        except Exception:  # noqa: BLE001 - the explorer rebuilds its DOM while a new payload loads
            pass
        time.sleep(0.25)
    raise TimeoutError("the explorer kept its grid")


def visit_real_page(browser, url: str, spec: RealPage, events: int, log) -> dict:
    """Open one page fresh, wait for its explorer, count the bytes, then time it."""
    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    counter = ByteCounter(page)
    started = time.time()
    page.goto(f"{url}/?{spec.query}")
    if spec.expander:
        opener = page.get_by_text(spec.expander)
        opener.wait_for(timeout=LOAD_TIMEOUT_MS)
        _idle(page, LOAD_TIMEOUT_MS / 1000)
        opener.click()
    root = wait_for_explorer(page, spec.explorer, LOAD_TIMEOUT_MS)
    _idle(page, LOAD_TIMEOUT_MS / 1000)
    out = {"view_data": counter.data, "view_total": counter.total, "view_ws": counter.ws,
           "view_static": counter.static, "payloads": list(counter.payloads), "hosts": set(counter.hosts)}
    log(f"  {spec.name}: explorer up after {time.time() - started:.0f} s; {counter.data / 1e6:.2f} MB of page data")
    if spec.choose:
        tile = root.locator(".aex-tile canvas").first
        grid = f"{tile.get_attribute('width')}x{tile.get_attribute('height')}"
        data_before, started = counter.data, time.time()
        page.get_by_text(spec.choose, exact=True).click()
        _wait_keys_change(root, grid, LOAD_TIMEOUT_MS / 1000)
        wait_for_explorer(page, spec.explorer, LOAD_TIMEOUT_MS)
        _idle(page, LOAD_TIMEOUT_MS / 1000)
        out.update(choose_data=counter.data - data_before, payloads=list(counter.payloads))
        log(f"  {spec.name}: '{spec.choose}' up after {time.time() - started:.0f} s")
    if spec.direction:
        root.locator(f'.aex-pill[data-value="{spec.direction}"]').click()
        page.wait_for_function(f"(el) => el.dataset.direction === {spec.direction!r}",
                               arg=root.element_handle(), timeout=10_000)
        out["direction_data"] = counter.data - out["view_data"]  # bytes the switch brought: none expected
        log(f"  {spec.name}: switched to {spec.direction}")
    out["shape"] = explorer_shape(root)
    out["timings"] = measure_real_explorer(page, spec.explorer, events)
    out["hosts"] |= counter.hosts
    page.close()
    return out


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def p50_95(values: list[float]) -> str:
    return f"{pct(values, 50):.1f} / {pct(values, 95):.1f} ({len(values)})" if values else "-"


def _bytes(n: int | None) -> str:
    return "-" if n is None else f"{n:,} ({n / 1e6:.2f} MB)"


# ---- the old path: a Streamlit widget change reruns the page, Plotly redraws ------------------------------------
def _old_path_once(page, action) -> float | None:
    """ms from the widget action until the last DOM change of the rerun is painted (the status widget gone)."""
    page.evaluate("() => { window.__lastChange = 0; window.__t0 = performance.now(); }")
    action()
    deadline = time.time() + 60
    time.sleep(0.05)
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            break
        time.sleep(0.02)
    time.sleep(0.4)  # let the last repaint land
    return page.evaluate("() => window.__lastChange ? window.__lastChange - window.__t0 : null")


OBSERVE = """() => {
  if (window.__obs) return;
  const plots = () => document.querySelectorAll('.js-plotly-plot');
  window.__obs = new MutationObserver(() => {
    const t = performance.now();
    requestAnimationFrame(() => setTimeout(() => { window.__lastChange = performance.now(); }, 0));
    void t;
  });
  window.__obs.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  void plots;
}"""


def measure_old_path(page, base_url: str, events: int = 30, on_ready=None) -> dict[str, list[float]]:
    """The cross-attention page as it is: click-to-paint for a token change and a layer/head change ("switch";
    also split into "layer" and "head"). on_ready() is called once the page is idle, before the first change."""
    page.goto(base_url)
    _idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Cross-attention", exact=True).click()
    page.locator('.st-key-cross_token button').first.wait_for(timeout=180_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
    _idle(page)
    page.evaluate(OBSERVE)
    if on_ready is not None:
        on_ready()
    out: dict[str, list[float]] = {"token": [], "switch": [], "layer": [], "head": []}
    tokens = page.locator('.st-key-cross_token button')
    n_tokens = tokens.count()
    for i in range(events):
        ms = _old_path_once(page, lambda: tokens.nth((i + 1) % n_tokens).click())
        if ms is not None:
            out["token"].append(ms)
    for i in range(events):
        key = "cross_layer" if i % 2 == 0 else "cross_head"

        def change():
            page.locator(f'.st-key-{key} [role="combobox"]').click()
            options = page.locator('[role="option"]')
            options.first.wait_for(timeout=10_000)
            options.nth((i // 2) % max(1, options.count() - 1) + 1).click()

        ms = _old_path_once(page, change)
        if ms is not None:
            out["switch"].append(ms)
            out["layer" if key == "cross_layer" else "head"].append(ms)
    return out


def _idle(page, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    quiet = None
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count():
            quiet = None
        elif quiet is None:
            quiet = time.time()
        elif time.time() - quiet > 1.0:
            return
        time.sleep(0.1)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def row(what: str, values: list[float]) -> str:
    top = max(values, default=float("nan"))
    return f"| {what} | {len(values)} | {pct(values, 50):.1f} | {pct(values, 95):.1f} | {top:.1f} |"


def _pages_table(rows: list[tuple]) -> list[str]:
    head = ("| page | model / shape (layers x heads x queries x keys) | hover-to-paint p50 / p95 ms (n) "
            "| layer switch p50 / p95 ms (n) | head switch p50 / p95 ms (n) | payload bytes | page-view bytes |")
    return [head, "|---|---|---|---|---|---|---|", *("| " + " | ".join(r) + " |" for r in rows)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40, help="events of each kind per explorer")
    parser.add_argument("--old-events", type=int, default=30)
    parser.add_argument("--pack", default="bundled", choices=["bundled", "hub"],
                        help="the real pages' models (hub: full-size architectures, random weights); the harness "
                             "always runs bundled (its big explorer has full-size shapes)")
    parser.add_argument("--pages", default=",".join(PAGE_NAMES),
                        help=f"comma-separated, of {', '.join(PAGE_NAMES)} (default: all)")
    parser.add_argument("--no-old", action="store_true", help="skip the cross-attention page's old path")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.pages.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(PAGE_NAMES))
    if unknown:
        parser.error(f"unknown pages {unknown}; choose from {', '.join(PAGE_NAMES)}")
    if args.no_old and "old" in chosen:
        chosen.remove("old")
    from playwright.sync_api import sync_playwright

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    load_start = os.getloadavg()
    lines = ["| what | events | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    notes, rows = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if "harness" in chosen:
            with serve(HARNESS) as url:
                for name, label in (("explorer_big", "full-size 12x12x10x576"),
                                    ("explorer_bundled", "bundled tiny BLIP")):
                    page = browser.new_page(viewport={"width": 1300, "height": 1500})
                    counter = ByteCounter(page)
                    page.goto(url + f"/?only={'big' if name == 'explorer_big' else 'bundled'}")
                    wait_for_explorer(page, name)
                    _idle(page)
                    received = counter.total
                    runs_before = page.get_by_text("script runs:").inner_text()
                    result = measure_explorer(page, name, args.events)
                    runs_after = page.get_by_text("script runs:").inner_text()
                    lines.append(row(f"explorer ({label}): hover-to-paint", result["hover"]))
                    lines.append(row(f"explorer ({label}): layer/head switch-to-paint", result["switch"]))
                    lines.append(row(f"explorer ({label}): drawing work per frame (inside the two above)",
                                     result["work"]))
                    notes.append(f"harness, {label}: page view received {received / 1e6:.2f} MB (HTTP "
                                 f"{counter.http / 1e6:.2f} MB, websocket {counter.ws / 1e6:.2f} MB); hosts "
                                 f"{sorted(counter.hosts)}; reruns during the {2 * args.events} events: "
                                 f"{runs_before} -> {runs_after}")
                    page.close()
            print("\n".join(lines), flush=True)
        real = [spec for spec in REAL_PAGES if spec.name in chosen]
        if real or "old" in chosen:
            log(f"serving app.py, {args.pack} pack" + (" (full-size, bench/full_size_app.py)"
                                                       if args.pack == "hub" else ""))
            with serve("app.py", within_s=300, pack=args.pack) as url:
                for spec in real:
                    try:
                        got = visit_real_page(browser, url, spec, args.events, log)
                    except Exception as error:  # noqa: BLE001 - one page's failure must not lose the others
                        notes.append(f"{spec.title}: FAILED: {type(error).__name__}: {str(error)[:300]}")
                        log(f"  {spec.name} failed: {error}")
                        continue
                    t = got["timings"]
                    hover = t["token"] + t["patch"]
                    payload = got["payloads"][-1] if got["payloads"] else None
                    view = _bytes(got["view_data"]) + (f" + {_bytes(got['choose_data'])} for the {spec.choose[:6]} "
                                                       "switch" if "choose_data" in got else "")
                    rows.append((spec.title, f"{spec.model}: {got['shape']}", p50_95(hover), p50_95(t["layer"]),
                                 p50_95(t["head"]), _bytes(payload), view))
                    over = [f"hover p95 {pct(hover, 95):.0f} ms > {HOVER_TARGET_MS}"] * (
                        pct(hover, 95) > HOVER_TARGET_MS)
                    over += [f"{k} switch p95 {pct(t[k], 95):.0f} ms > {SWITCH_TARGET_MS}" for k in ("layer", "head")
                             if pct(t[k], 95) > SWITCH_TARGET_MS]
                    over += [f"page view {got['view_data'] / 1e6:.2f} MB > {PAGE_TARGET_BYTES / 1e6:.0f} MB"] * (
                        got["view_data"] > PAGE_TARGET_BYTES)
                    if got.get("choose_data", 0) > PAGE_TARGET_BYTES:
                        over.append(f"the {spec.choose[:6]} switch {got['choose_data'] / 1e6:.2f} MB > "
                                    f"{PAGE_TARGET_BYTES / 1e6:.0f} MB")
                    extra = (f"; the 448 px switch itself brought {got['choose_data'] / 1e6:.2f} MB"
                             if "choose_data" in got else "")
                    if "direction_data" in got:
                        extra += f"; the switch to {spec.direction} brought {got['direction_data']:,} bytes"
                    notes.append(f"{spec.title}: token hovers p50/p95 {p50_95(t['token'])}, patch hovers "
                                 f"{p50_95(t['patch'])} ms; page view {got['view_data'] / 1e6:.2f} MB of data "
                                 f"(websocket {got['view_ws'] / 1e6:.2f} MB), {got['view_total'] / 1e6:.2f} MB with "
                                 f"the app bundle (/static/, {got['view_static'] / 1e6:.2f} MB, cached after a first "
                                 f"visit){extra}; payloads seen {got['payloads']}; hosts {sorted(got['hosts'])}"
                                 + (f"; OVER TARGET: {', '.join(over)}" if over else ""))
                if "old" in chosen:
                    page = browser.new_page(viewport={"width": 1300, "height": 1500})
                    counter = ByteCounter(page)
                    ready: dict[str, int] = {}
                    old = measure_old_path(page, url, args.old_events,
                                           on_ready=lambda: ready.update(data=counter.data, ws=counter.ws))
                    reruns = len(old["token"]) + len(old["switch"])
                    per_rerun = (counter.ws - ready.get("ws", 0)) / max(1, reruns)
                    old_lines = lines[:2] + [
                        row("old path (cross-attention page): token segmented control click-to-paint", old["token"]),
                        row("old path (cross-attention page): layer/head selectbox click-to-paint", old["switch"])]
                    print("\n".join(old_lines), flush=True)
                    rows.append(("Cross-attention, old path (a rerun per change)",
                                 "BLIP VQA; Plotly heatmap redrawn by a rerun",
                                 p50_95(old["token"]) + " token clicks", p50_95(old["layer"]), p50_95(old["head"]),
                                 f"{per_rerun / 1e3:,.0f} KB per rerun (websocket)",
                                 _bytes(ready.get("data"))))
                    notes.append(f"old path: the page received {counter.total / 1e6:.2f} MB over the visit and "
                                 f"{reruns} reruns ({per_rerun / 1e3:.0f} KB of websocket frames each)")
                    page.close()
        browser.close()
    load_end = os.getloadavg()
    if rows:
        table = _pages_table(rows)
        print(f"\nReal pages, {args.pack} pack" + (" (full-size architectures, random weights: bench/full_size.py)"
                                                   if args.pack == "hub" else "") + ":\n")
        print("\n".join(table))
    notes.append(f"targets (issue #17): hover p95 <= {HOVER_TARGET_MS} ms, layer/head switch p95 <= "
                 f"{SWITCH_TARGET_MS} ms, page-view data <= {PAGE_TARGET_BYTES / 1e6:.0f} MB (default view; "
                 "page-view bytes = websocket + HTTP other than the cached /static/ app bundle)")
    notes.append(f"machine: {machine()}, Chromium {CHROMIUM} headless; load average (1, 5, 15 min) start "
                 f"{load_start[0]:.2f}, {load_start[1]:.2f}, {load_start[2]:.2f}; end {load_end[0]:.2f}, "
                 f"{load_end[1]:.2f}, {load_end[2]:.2f}")
    print()
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
