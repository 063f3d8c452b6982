"""Browser benchmark: what a user waits for, timed inside the page (`python -m bench.browser`).

Against the explorer harness (tests/browser/explorer_app.py; full-size BLIP shapes: 12 layers x 12 heads x 10 tokens x 576
patches on a 24 x 24 grid): hover-to-paint and layer/head-switch-to-paint, each over >= 30 events, timed by the
explorer itself (event.timeStamp -> the requestAnimationFrame that drew it -> a task after that frame), and the
bytes the page view received (HTTP + websocket frames). For comparison, the old path on pages/cross_attention.py: a
token change with the "cross_token" segmented control and a layer/head change with the "cross_layer"/"cross_head"
selectboxes, click to repainted Plotly heatmap (a server rerun each), timed with performance.now and
requestAnimationFrame in the page as well.

Prints a markdown table. Needs Debian's chromium and playwright (requirements-dev.txt). No number is asserted.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
def serve(script: str = HARNESS, within_s: float = 120):
    """`streamlit run <script>` on a free 127.0.0.1 port (bundled pack, hub offline); yields its URL."""
    port = _free_port()
    env = dict(os.environ, MMA_PACK="bundled", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", script, "--server.address", "127.0.0.1",
                             "--server.port", str(port), "--server.headless", "true"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
                    raise RuntimeError("streamlit did not start:\n" + proc.stdout.read().decode(errors="replace"))
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


class ByteCounter:
    """Bytes the page received: HTTP response bodies (Content-Length or body size) and websocket frames."""

    def __init__(self, page):
        self.http = 0
        self.ws = 0
        self.hosts: set[str] = set()
        page.on("response", self._response)
        page.on("websocket", self._socket)

    def _response(self, response):
        from urllib.parse import urlsplit

        self.hosts.add(urlsplit(response.url).hostname or "")
        try:
            length = response.headers.get("content-length")
            self.http += int(length) if length else len(response.body())
        except Exception:  # noqa: BLE001 - a redirect or an aborted request has no body
            pass

    def _socket(self, ws):
        ws.on("framereceived", lambda payload: setattr(self, "ws", self.ws + len(payload)))

    @property
    def total(self) -> int:
        return self.http + self.ws


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


def measure_old_path(page, base_url: str, events: int = 30) -> dict[str, list[float]]:
    """The cross-attention page as it is: click-to-paint for a token change and a layer/head change."""
    page.goto(base_url)
    _idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Cross-attention", exact=True).click()
    page.locator('.st-key-cross_token button').first.wait_for(timeout=180_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
    _idle(page)
    page.evaluate(OBSERVE)
    out: dict[str, list[float]] = {"token": [], "switch": []}
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
    return f"| {what} | {len(values)} | {pct(values, 50):.1f} | {pct(values, 95):.1f} | {max(values, default=float('nan')):.1f} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--old-events", type=int, default=30)
    parser.add_argument("--no-old", action="store_true", help="skip the cross-attention page's old path")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    lines = ["| what | events | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    notes = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with serve(HARNESS) as url:
            for name, label in (("explorer_big", "full-size 12x12x10x576"), ("explorer_bundled", "bundled tiny BLIP")):
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
                lines.append(row(f"explorer ({label}): drawing work per frame (inside the two above)", result["work"]))
                notes.append(f"{label}: page view received {received / 1e6:.2f} MB (HTTP {counter.http / 1e6:.2f} MB, "
                             f"websocket {counter.ws / 1e6:.2f} MB); hosts {sorted(counter.hosts)}; "
                             f"reruns during the {2 * args.events} events: {runs_before} -> {runs_after}")
                page.close()
        print("\n".join(lines), flush=True)
        lines = lines[:2]
        if not args.no_old:
            with serve("app.py") as url:
                page = browser.new_page(viewport={"width": 1300, "height": 1500})
                counter = ByteCounter(page)
                old = measure_old_path(page, url, args.old_events)
                lines.append(row("old path (cross-attention page): token segmented control click-to-paint",
                                 old["token"]))
                lines.append(row("old path (cross-attention page): layer/head selectbox click-to-paint",
                                 old["switch"]))
                notes.append(f"old path: the page received {counter.total / 1e6:.2f} MB over the visit and "
                             f"{len(old['token']) + len(old['switch'])} reruns")
                page.close()
        browser.close()
    print("\n".join(lines))
    print()
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
