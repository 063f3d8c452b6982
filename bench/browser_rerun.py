"""Click-to-paint in a real browser, with and without the pages' `@st.fragment`, in one run.

    python -m bench.browser_rerun              # 10 changes per page and variant (+1 warm-up each)
    python -m bench.browser_rerun --changes 20 --pages patches

What it measures, for a view-only change (a Layer or Head selectbox) on Patching, Cross-attention and Early fusion:
- click-to-paint: from the option's pointerdown (the event's timeStamp, in the page) to the frame after the changed
  heatmap's data arrived (polled every animation frame in the page, then one requestAnimationFrame + setTimeout 0,
  i.e. once the browser has painted it); p50 and p95 over the changes;
- full script runs per change: each copy's app.py appends a line to a file on every full run (a fragment rerun does
  not run app.py), read before and after each change;
- whether the URL's layer/head followed the change (deep links: `deep_link.publish` must run inside the fragment).

The two variants are two copies of the working tree in a temporary folder, served by two `streamlit run app.py`
at once (bundled pack, offline): "with" is the tree as it is; "without" has every `@st.fragment` line removed from
the three pages' scripts (the section's function is then an ordinary call inside the full run). The changes
alternate between the two servers (A B B A ...), so machine load falls on both alike; compare the ratios, not the
absolute times. The counter lines exist only in the temporary copies: product code reads no benchmark switch.
Never part of the test run.

Measured here (bundled pack, 2 shared cores, two runs of 12 and 16 changes): every fragment took the change from 1
full run to 0 and kept the URL in step; click-to-paint p50 with / without: early fusion 0.69-0.78, patching
0.81-0.93 (paired 0.77-0.80), cross-attention 0.82-1.00 (paired 0.90-1.04, so its page has no fragment: the QKV and
masking panels read the layer, head and token, and the fragment had to hold everything below the answer). Server
CPU per change did not move (0.96-1.06): the figures inside the section are the work; the gain is the browser's
(main-thread time 0.81-0.92), which repaints less of the page.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import tests.browser.test_browser as tb

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "test-artifacts", "__pycache__", ".pytest_cache")
FRAGMENT_LINE = re.compile(r"^[ \t]*@st\.fragment\b.*\n", re.MULTILINE)
COUNTER = 'import os as _bench_os; open(_bench_os.environ["MMA_BENCH_RUNS"], "a").write("run\\n")  # bench only\n'


@dataclass(frozen=True)
class Target:
    """One page's view-only change: the sidebar link, the page script, the widget key, the heatmap's title."""
    name: str
    link: str
    script: str
    widget_key: str
    field: str  # the query parameter the change must update
    plot_title: str  # a part of the changed heatmap's title
    height: int  # viewport height: the heatmap must be drawn


TARGETS = [
    Target("patches", "Patching", "pages/patching.py", "patching_layer", "layer", "patch attention", 4000),
    Target("cross-attention", "Cross-attention", "pages/cross_attention.py", "cross_head", "head",
           "Token x patch cross-attention", 2600),
    Target("early-fusion", "Early fusion", "pages/early_fusion.py", "fusion_head", "head", "Joint self-attention",
           2600),
]

# The page side: find the heatmap by title, remember its data, stamp the option's pointerdown, poll every frame.
ARM_JS = """(title) => {
  const find = () => Array.from(document.querySelectorAll('.js-plotly-plot'))
      .find(p => ((p.layout && p.layout.title && p.layout.title.text) || '').includes(title));
  const sig = () => { const p = find(); return p && p.data ? JSON.stringify(p.data.map(t => t.z || null)) : null; };
  const bench = window.__bench = {before: sig(), t0: null, t1: null};
  document.addEventListener('pointerdown', e => {
    if (bench.t0 === null && e.target.closest('[role="option"]')) bench.t0 = e.timeStamp;
  }, {capture: true});
  const poll = () => {
    const now = sig();
    if (bench.t0 !== null && now !== null && now !== bench.before) {
      requestAnimationFrame(() => setTimeout(() => { bench.t1 = performance.now(); }, 0));
    } else {
      requestAnimationFrame(poll);
    }
  };
  requestAnimationFrame(poll);
  return bench.before !== null;
}"""


@dataclass
class Series:
    ms: list[float] = field(default_factory=list)
    full_runs: list[int] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # the server process's CPU time per change
    browser_ms: list[float] = field(default_factory=list)  # the page's main-thread task time per change
    url_ok: int = 0
    failed: int = 0


@dataclass
class Variant:
    name: str
    tree: Path
    runs_file: Path
    fragments: list[str]
    proc: object = None
    url: str = ""

    def cpu_ms(self) -> float:
        """The server process's user + system CPU time so far (every thread, finished ones too)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def full_runs(self) -> int:
        return len(self.runs_file.read_text().splitlines()) if self.runs_file.exists() else 0


def make_tree(top: Path, name: str, strip: bool) -> Variant:
    """A copy of the working tree; with `strip`, the three pages lose their @st.fragment lines."""
    tree = top / name
    shutil.copytree(ROOT, tree, ignore=IGNORED)
    fragments = []
    for target in TARGETS:
        script = tree / target.script
        text = script.read_text()
        if FRAGMENT_LINE.search(text):
            fragments.append(target.name)
            if strip:
                script.write_text(FRAGMENT_LINE.sub("", text))
    app = tree / "app.py"
    app.write_text(COUNTER + app.read_text())
    return Variant(name, tree, top / f"{name}.runs", [] if strip else fragments)


def start(variant: Variant) -> None:
    tb.ROOT = variant.tree  # start_streamlit runs `streamlit run app.py` in tests.browser.test_browser.ROOT
    env = dict(os.environ, MMA_PACK="bundled", HF_HUB_OFFLINE="1", MMA_BENCH_RUNS=str(variant.runs_file))
    variant.proc, variant.url = tb.start_streamlit(env)


def _query(url: str, name: str) -> str | None:
    return parse_qs(urlsplit(url).query).get(name, [None])[0]


def _task_ms(cdp) -> float:
    """The page's main-thread task time so far (Chrome's Performance.getMetrics TaskDuration)."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration") * 1e3


def change_once(page, cdp, target: Target, step: int, series: Series | None, variant: Variant) -> None:
    """Open the selectbox, pick the next option (a different one), time click-to-paint, count full runs."""
    page.bring_to_front()
    box = page.locator(f".st-key-{target.widget_key}")
    box.scroll_into_view_if_needed()
    current = box.locator('input[role="combobox"]').input_value().strip()
    url_before, runs_before, cpu_before, task_before = page.url, variant.full_runs(), variant.cpu_ms(), _task_ms(cdp)
    if not page.evaluate(ARM_JS, target.plot_title):
        raise RuntimeError(f"{target.name}: no heatmap titled {target.plot_title!r} on {variant.name}")
    box.locator('[data-testid="stSelectbox"]').click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=10_000)
    labels = [t.strip() for t in options.all_inner_texts()]
    choices = [label for label in labels if label != current]
    label = choices[step % len(choices)]
    page.get_by_role("option", name=label, exact=True).click()
    try:
        page.wait_for_function("() => window.__bench.t1 !== null", timeout=60_000, polling=50)
    except Exception:  # the heatmap did not change (or not within a minute): count it, keep going
        if series is not None:
            series.failed += 1
        tb._wait_until_idle(page)
        return
    ms = page.evaluate("() => window.__bench.t1 - window.__bench.t0")
    tb._wait_until_idle(page, timeout_s=90)
    if series is None:
        return
    series.ms.append(ms)
    series.full_runs.append(variant.full_runs() - runs_before)
    series.server_ms.append(variant.cpu_ms() - cpu_before)
    series.browser_ms.append(_task_ms(cdp) - task_before)
    digits = re.search(r"\d+$", label)
    now = _query(page.url, target.field)
    if now is not None and now != _query(url_before, target.field) and (digits is None or now == digits.group()):
        series.url_ok += 1


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(browser, target: Target, variants: list[Variant], changes: int, warmup: int) -> dict[str, Series]:
    pages, cdps = {}, {}
    for v in variants:
        tb.ROOT = v.tree
        pages[v.name] = tb.open_page(browser, v.url, target.link, height=target.height)
        pages[v.name].locator(f".st-key-{target.widget_key}").wait_for(timeout=60_000)
        cdps[v.name] = pages[v.name].context.new_cdp_session(pages[v.name])
        cdps[v.name].send("Performance.enable")
    results = {v.name: Series() for v in variants}
    for step in range(warmup):  # warm-up: every option once (its first figures are computed), not counted
        for v in variants:
            change_once(pages[v.name], cdps[v.name], target, step, None, v)
    for step in range(1, changes + 1):
        order = variants if step % 2 else variants[::-1]  # A B, B A, ...: load drifts fall on both
        for v in order:
            change_once(pages[v.name], cdps[v.name], target, step, results[v.name], v)
    for v in variants:
        tb._assert_no_exception(pages[v.name], f"{target.name} ({v.name})")
        pages[v.name].close()
    return results


def table(rows: list[tuple[Target, dict[str, Series]]], changes: int, with_fragment: list[str], raw: bool) -> str:
    """Markdown: each figure as with / without (ratio with / without)."""
    def pair(a: float, b: float) -> str:
        return f"{a:.0f} / {b:.0f} ({a / b:.2f})" if b else f"{a:.0f} / {b:.0f}"

    out = ["| page (widget) | fragment | click-to-paint p50, ms | p95, ms | paired ratio p50 | server CPU per change, "
           "ms | browser main thread per change, ms | full runs per change | URL followed |",
           "|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for target, res in rows:
        a, b = res["with"], res["without"]
        paired = statistics.median(x / y for x, y in zip(a.ms, b.ms)) if a.ms and b.ms else float("nan")
        mean = statistics.mean
        out.append(
            f"| {target.link} (`{target.widget_key}`) | {'yes' if target.name in with_fragment else 'no'} | "
            f"{pair(percentile(a.ms, .5), percentile(b.ms, .5))} | "
            f"{pair(percentile(a.ms, .95), percentile(b.ms, .95))} | {paired:.2f} | "
            f"{pair(mean(a.server_ms or [0]), mean(b.server_ms or [0]))} | "
            f"{pair(mean(a.browser_ms or [0]), mean(b.browser_ms or [0]))} | "
            f"{mean(a.full_runs or [0]):.1f} / {mean(b.full_runs or [0]):.1f} | "
            f"{a.url_ok}/{len(a.ms)} / {b.url_ok}/{len(b.ms)} |")
        if a.failed or b.failed:
            notes.append(f"{target.name}: {a.failed} / {b.failed} changes did not paint within 60 s")
        if raw:
            notes.append(f"{target.name} click-to-paint ms: with {[round(x) for x in a.ms]} / "
                         f"without {[round(x) for x in b.ms]}")
    out += notes
    out.append(f"\nEach cell: with fragment / without (ratio). {changes} changes per page and variant, alternating "
               "between the two servers; click-to-paint = the option's pointerdown -> the changed heatmap painted, "
               "measured inside the page; paired ratio = median of (with / without) over back-to-back changes.")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=4, help="uncounted changes first (each option once)")
    parser.add_argument("--pages", default=",".join(t.name for t in TARGETS))
    parser.add_argument("--raw", action="store_true", help="print every change's time too")
    args = parser.parse_args()
    wanted = [t for t in TARGETS if t.name in args.pages.split(",")]
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="mma-rerun-") as top:
        variants = [make_tree(Path(top), "with", strip=False), make_tree(Path(top), "without", strip=True)]
        with_fragment = variants[0].fragments
        started = time.time()
        try:
            for v in variants:
                start(v)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=tb.CHROMIUM, args=tb.CHROMIUM_ARGS)
                rows = [(t, measure(browser, t, variants, args.changes, args.warmup)) for t in wanted]
                browser.close()
        finally:
            for v in variants:
                if v.proc is not None:
                    v.proc.terminate()
                    v.proc.wait(timeout=10)
            tb.ROOT = ROOT
    print(table(rows, args.changes, with_fragment, args.raw))
    print(f"\n(pages with @st.fragment in the working tree: {', '.join(with_fragment) or 'none'}; "
          f"{time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
