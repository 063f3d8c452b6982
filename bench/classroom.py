"""Classroom load test: N students open the app at once (`python -m bench.classroom`; not part of the test run).

    python -m bench.classroom                          # N = 10, 30, 60; scenarios a, b, c; bundled pack
    python -m bench.classroom --n 1,10,30 --scenarios a,b --pack hub --timeout 300

N real clients: one headless Chromium (several with --per-browser), N browser contexts (each its own cookie jar,
so its own Streamlit session), all created and given a blank page first, then released together (an asyncio
barrier) onto their links against one `streamlit run` on 127.0.0.1 (bench/browser.py's `serve`: offline, the
bundled pack, or with --pack hub bench/full_size_app.py's full-size hub architectures with random weights).

Scenarios (links are the app's shared links, core/classroom/deep_link.py: `/?page=...&image=...&text=...`):
  a  everyone opens the same Cross-attention preset link (its image and question);
  b  everyone opens Cross-attention on the same image with a different question (all distinct: no result-cache hit);
  c  round-robin over the five pages (Patching, Cross-attention, CLIP space, Early fusion, Listening), with a few
     images and question variants (some clients share a view, as a class would).

Time to first answer: from the navigation's start (the barrier) to the first element that needs the page's model
result, found in the page by one poll (every 250 ms, inside the page):
  Cross-attention, Early fusion: the subheader whose text starts "Answer" ("Answer:", or "Answer (a guess):" off
    the shapes world; st.subheader after models.ask / vilt);
  Patching: the header "1. What the model receives" (drawn after models.vision_view);
  CLIP space: the first Plotly chart (the similarity matrix, drawn after the embedding);
  Listening: the subheader starting "Transcript:" (after models.listen).
Then, with what is left of the timeout, until the page is idle (Streamlit's status widget no longer says
"Stop" or "Running"): "page done", the whole page script of that client (the rest of the page's sections).
An error: a client whose answer did not appear within --timeout, one that shows a Streamlit exception element
(`[data-testid="stException"]`, its first line is the reason) or "Page not found", or whose page crashed.

Each (scenario, N) gets a fresh server, so neither the result caches nor the sessions carry over. Before the
barrier, one warm-up client per page in the scenario opens it with an image (and question) that no test client
uses, so model loading (st.cache_resource) is not in the numbers but the test's results are not cached either
(the warm-up's time, a cold start, is printed). Caveat: the Listening page's sound is not in the link, so the
warm-up computes the default sample's transcript and scenario c's Listening clients hit that cache.

The server process tree (the streamlit process and any children) is sampled every 0.5 s from /proc: RSS (VmRSS,
summed) and CPU (utime + stime) from the barrier until every client is done; peak RSS and mean CPU as % of one
core. The clients run on the same machine: Chromium's CPU competes with the server's (its share is printed too), and
so does anything else running there: the whole machine's busy share (/proc/stat, all cores) and the 1-minute load
average at the end of each row are printed beside it.

Prints a markdown table per run and the machine line; --out also writes them to a file.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.browser import CHROMIUM, CHROMIUM_ARGS, serve
from core.classroom.deep_link import View, link
from core.classroom.page_table import NAMES
from core.classroom.presets import PRESETS

IMAGE = "shapes: two objects"
WARM_IMAGE = "photo: rocket"  # no test client uses it: the warm-up loads the models without caching a test result
WARM_TEXT = "what is in the sky?"
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
SHAPES = ("circle", "triangle", "square", "star", "object", "shape")

# the first element that needs the model's result, per page: (kind, argument) for the in-page poll
ANSWER = {
    "cross-attention": ("heading", "^\\s*Answer\\b"),  # "Answer:" or, off the shapes world, "Answer (a guess):"
    "early-fusion": ("heading", "^\\s*Answer\\b"),
    "patches": ("heading", "What the model receives"),
    "clip-space": ("selector", '[data-testid="stPlotlyChart"]'),
    "listening": ("heading", "^\\s*Transcript:"),
}

POLL = """([kind, arg]) => {
  const ex = document.querySelector('[data-testid="stException"]');
  if (ex) return 'error: exception: ' + (ex.innerText || '').split('\\n').filter(Boolean).slice(0, 2).join(' ');
  const body = document.body ? document.body.innerText : '';
  if (body.includes('Page not found')) return 'error: Page not found';
  if (kind === 'selector') return document.querySelector(arg) ? 'ok' : false;
  const re = new RegExp(arg);
  for (const h of document.querySelectorAll('h1, h2, h3, h4')) if (re.test(h.innerText || '')) return 'ok';
  return false;
}"""

IDLE = """() => {
  const ex = document.querySelector('[data-testid="stException"]');
  if (ex) return 'error: exception: ' + (ex.innerText || '').split('\\n').filter(Boolean).slice(0, 2).join(' ');
  const w = document.querySelector('[data-testid="stStatusWidget"]');
  return (w && /Running|Stop/i.test(w.innerText || '')) ? false : 'ok';  // "Stop" beside the running icon
}"""


def questions(n: int) -> list[str]:
    """n distinct questions about the two-object scene: the presets' words first, then generated variants."""
    out = ["what color is the circle?", "which shape is red?", "how many objects?", "what shape is the green object?",
           "what color is the triangle?", "is there a circle?", "where is the triangle?", "what is on the left?"]
    out += [f"is there a {c} {s}?" for s in SHAPES for c in COLOURS]
    out += [f"what color is the {s} number {i}?" for i in range(n) for s in SHAPES]
    return out[:n]


def url(base: str, page: str, image: str | None = None, text: str | None = None) -> str:
    return link(base, View(page=page, image=image, text=text))


def scenario_urls(scenario: str, n: int, base: str) -> list[tuple[str, str]]:
    """(page, url) for each of the n clients."""
    if scenario == "a":
        preset = PRESETS["cross-attention"][0].view
        return [("cross-attention", url(base, "cross-attention", preset.image, preset.text))] * n
    if scenario == "b":
        return [("cross-attention", url(base, "cross-attention", IMAGE, q)) for q in questions(n)]
    if scenario == "c":
        images = ("shapes: one object", "shapes: two objects", "shapes: three objects")
        variants = questions(3)
        out = []
        for i in range(n):
            page = NAMES[i % len(NAMES)]
            k = i // len(NAMES)
            image = images[k % len(images)]
            text = variants[k % len(variants)] if page in ("cross-attention", "early-fusion") else None
            out.append((page, url(base, page, image, text)))
        return out
    raise ValueError(f"no scenario {scenario!r} (a, b, c)")


def warm_urls(scenario: str, base: str) -> list[tuple[str, str]]:
    pages = ["cross-attention"] if scenario in ("a", "b") else list(NAMES)
    return [(page, url(base, page, WARM_IMAGE, WARM_TEXT if page in ("cross-attention", "early-fusion") else None))
            for page in pages]


# ---------------------------------------------------------------- the server's process tree, sampled from /proc

def _parents() -> dict[int, int]:
    """pid -> parent pid, for every process (one pass over /proc)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    out[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return out


def _children(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    return [p for p, pp in (parents or _parents()).items() if pp == pid]


def _tree(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    parents = parents or _parents()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p, parents))
    return out


def _rss_cpu(pids: list[int]) -> tuple[int, float]:
    """Summed VmRSS (bytes) and utime + stime (s) of these processes."""
    rss, cpu, tick = 0, 0.0, os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) * 1024
            with open(f"/proc/{p}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            cpu += (int(parts[11]) + int(parts[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return rss, cpu


def server_pid(port: int) -> int:
    """Our `streamlit run` (a child of this process whose command line names the port)."""
    for p in _children(os.getpid()):
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(port).encode() in cmd:
            return p
    raise RuntimeError(f"no server process on port {port}")


class Sampler(threading.Thread):
    """Every `every` s: the process tree's RSS and CPU time; peak RSS and mean CPU (% of one core) over the run."""

    def __init__(self, pid: int, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every, self.stop_flag = pid, every, threading.Event()
        self.peak_rss, self.start_rss = 0, 0

    def run(self):
        while not self.stop_flag.is_set():
            rss, _ = _rss_cpu(_tree(self.pid))
            self.peak_rss = max(self.peak_rss, rss)
            self.browser_seen.update(_browser_cpu())
            self.stop_flag.wait(self.every)

    def __enter__(self):
        self.start_rss, self.cpu0 = _rss_cpu(_tree(self.pid))
        self.machine0 = _machine_cpu()
        self.t0 = time.monotonic()
        self.browser_seen = _browser_cpu()  # pid -> CPU s, its last sample (the browsers exit before the end)
        self.browser_cpu0 = sum(self.browser_seen.values())
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.join()
        rss, cpu1 = _rss_cpu(_tree(self.pid))
        self.peak_rss = max(self.peak_rss, rss)
        self.wall = time.monotonic() - self.t0
        self.cpu_pct = 100 * (cpu1 - self.cpu0) / self.wall
        busy, total = (b - a for a, b in zip(self.machine0, _machine_cpu()))
        self.machine_busy_pct = 100 * busy / max(total, 1)
        self.load1 = os.getloadavg()[0]
        self.browser_cpu_pct = 100 * (sum(self.browser_seen.values()) - self.browser_cpu0) / self.wall


def _machine_cpu() -> tuple[int, int]:
    """All cores' busy and total jiffies (/proc/stat): how busy the whole machine was, others' work included."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _browser_cpu() -> dict[int, float]:
    """CPU seconds of each process under this process's other children (Playwright's driver and Chromium)."""
    out, parents = {}, _parents()
    for p in _children(os.getpid(), parents):
        cmd = b""
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            pass
        if b"streamlit" in cmd or b"full_size_app" in cmd:
            continue
        for q in _tree(p, parents):
            out[q] = _rss_cpu([q])[1]
    return out


# ---------------------------------------------------------------- the clients

@dataclass
class Client:
    page: str
    url: str
    answer_s: float | None = None
    done_s: float | None = None
    error: str | None = None


async def visit(context, client: Client, go: asyncio.Event, timeout_s: float) -> None:
    page = await context.new_page()
    await go.wait()
    t0 = time.monotonic()
    try:
        await page.goto(client.url, wait_until="commit", timeout=timeout_s * 1000)
        handle = await page.wait_for_function(POLL, arg=list(ANSWER[client.page]), polling=250,
                                              timeout=max(1.0, timeout_s - (time.monotonic() - t0)) * 1000)
        state = await handle.json_value()
        if state != "ok":
            client.error = state[len("error: "):]
            return
        client.answer_s = time.monotonic() - t0
        left = timeout_s - (time.monotonic() - t0)
        if left > 1:
            try:
                await page.wait_for_timeout(300)  # the status widget may lag the first delta
                handle = await page.wait_for_function(IDLE, polling=250, timeout=left * 1000)
                state = await handle.json_value()
                if state == "ok":
                    client.done_s = time.monotonic() - t0
                else:
                    client.error = "after the answer: " + state[len("error: "):]
            except Exception:  # noqa: BLE001 - the page's rest not done in time: the answer still counts
                pass
    except Exception as e:  # noqa: BLE001 - a timeout or a crashed page is this client's error
        name = type(e).__name__
        client.error = f"no answer in {timeout_s:.0f} s" if "Timeout" in name else f"{name}: {str(e)[:120]}"


async def run_clients(targets: list[tuple[str, str]], timeout_s: float, per_browser: int) -> list[Client]:
    from playwright.async_api import async_playwright

    clients = [Client(page, u) for page, u in targets]
    go = asyncio.Event()
    async with async_playwright() as pw:
        browsers = [await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    for _ in range(max(1, -(-len(clients) // per_browser)))]
        try:
            contexts = [await browsers[i // per_browser].new_context(viewport={"width": 1280, "height": 900})
                        for i in range(len(clients))]
            tasks = [asyncio.create_task(visit(c, client, go, timeout_s)) for c, client in zip(contexts, clients)]
            while sum(len(c.pages) for c in contexts) < len(contexts):  # every blank page open: the barrier
                await asyncio.sleep(0.05)
            go.set()
            await asyncio.gather(*tasks)
        finally:
            for b in browsers:
                await b.close()
    return clients


# ---------------------------------------------------------------- one run, and the table

def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


@dataclass
class Result:
    scenario: str
    n: int
    clients: list[Client]
    warm_s: float
    rss_mb: float
    start_rss_mb: float
    cpu_pct: float
    browser_cpu_pct: float
    machine_pct: float
    load1: float
    wall_s: float
    reasons: dict[str, int] = field(default_factory=dict)

    def row(self) -> str:
        answers = [c.answer_s for c in self.clients if c.answer_s is not None]
        done = [c.done_s for c in self.clients if c.done_s is not None]
        errors = sum(c.error is not None for c in self.clients)
        fa = (f"{pct(answers, .5):.1f} / {pct(answers, .95):.1f} / {max(answers):.1f}" if answers else "-")
        pd = (f"{pct(done, .5):.1f} / {pct(done, .95):.1f}" if done else "-")
        return (f"| {self.scenario} | {self.n} | {fa} | {pd} ({len(done)}) | {errors} | {self.rss_mb:.0f} "
                f"(start {self.start_rss_mb:.0f}) | {self.cpu_pct:.0f} | {self.browser_cpu_pct:.0f} | "
                f"{self.machine_pct:.0f} / {self.load1:.1f} | {self.warm_s:.1f} |")


HEADER = ("| scenario | N | first answer p50 / p95 / max s | page done p50 / p95 s (clients) | errors | "
          "peak server RSS MB | mean server CPU % | browsers' CPU % | machine busy % / load avg | warm-up s |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def one_run(scenario: str, n: int, pack: str, timeout_s: float, per_browser: int) -> Result:
    with serve("app.py", pack=pack, within_s=300) as base:
        pid = server_pid(int(base.rsplit(":", 1)[1]))
        t0 = time.monotonic()
        warm = asyncio.run(run_clients(warm_urls(scenario, base), timeout_s, per_browser))
        warm_s = time.monotonic() - t0
        for c in warm:
            if c.error:
                print(f"  warm-up {c.page}: {c.error}", file=sys.stderr)
        with Sampler(pid) as sampler:
            clients = asyncio.run(run_clients(scenario_urls(scenario, n, base), timeout_s, per_browser))
    reasons: dict[str, int] = {}
    for c in clients:
        if c.error:
            key = f"{c.page}: {c.error}"
            reasons[key] = reasons.get(key, 0) + 1
    return Result(scenario, n, clients, warm_s, sampler.peak_rss / 2**20, sampler.start_rss / 2**20,
                  sampler.cpu_pct, sampler.browser_cpu_pct, sampler.machine_busy_pct, sampler.load1, sampler.wall,
                  reasons)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) // 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return f"{model}, {os.cpu_count()} cores, {mem} GiB RAM, Python {platform.python_version()}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", default="10,30,60", help="client counts, comma-separated")
    ap.add_argument("--scenarios", default="a,b,c")
    ap.add_argument("--pack", default="bundled", choices=("bundled", "hub"))
    ap.add_argument("--timeout", type=float, default=180, help="seconds a client may wait for its answer")
    ap.add_argument("--per-browser", type=int, default=40, help="contexts per Chromium process")
    ap.add_argument("--out", help="also append the tables to this file")
    args = ap.parse_args(argv)
    ns = [int(x) for x in args.n.split(",") if x]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    lines = [f"Machine: {machine()}; load average at start {load()}",
             f"Pack: {args.pack}; timeout {args.timeout:.0f} s; a fresh server per row", "", HEADER]
    print("\n".join(lines), flush=True)
    notes = []
    for scenario in scenarios:
        for n in ns:
            r = one_run(scenario, n, args.pack, args.timeout, args.per_browser)
            lines.append(r.row())
            print(r.row(), flush=True)
            for reason, count in r.reasons.items():
                notes.append(f"- {scenario}, N={n}: {count} x {reason}")
                print(f"    {count} x {reason}", file=sys.stderr, flush=True)
    lines += ["", f"Load average at end {load()}", *notes]
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(lines) + "\n\n")
    print(f"\nLoad average at end {load()}")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
