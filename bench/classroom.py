"""Classroom load test: N students open the app at once (`python -m bench.classroom`; not part of the test run).

    python -m bench.classroom                          # N = 10, 30, 60; scenarios a, b, c; bundled pack
    python -m bench.classroom --n 1,10,30 --scenarios a,b --pack hub --timeout 300
    python -m bench.classroom --replicas 2 --scenarios b --n 10,20   # deploy/run_replicas.sh 2: nginx + 2 replicas

N real clients: one headless Chromium (several with --per-browser), N browser contexts (each its own cookie jar,
so its own Streamlit session), all created and given a blank page first, then released together (an asyncio
barrier) onto their links against one `streamlit run` on 127.0.0.1 (bench/browser.py's `serve`: offline, the
bundled pack, or with --pack hub bench/full_size_app.py's full-size hub architectures with random weights).

Scenarios (links are the app's shared links, core/classroom/deep_link.py: `/?page=...&image=...&text=...`):
  a  everyone opens the same Cross-attention preset link (its image and question);
  b  everyone opens Cross-attention on the same image with a different question (all distinct: no result-cache hit);
  c  round-robin over the five pages (Patching, Cross-attention, CLIP space, Early fusion, Listening), with a few
     images and question variants (some clients share a view, as a class would).
  floor  everyone opens bench/floor_app.py, a page that draws only "Answer: green": Streamlit's own cost per student,
     the least any page can cost on this machine (one server only).

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
(`[data-testid="stException"]`, its first line is the reason), "Page not found" or Streamlit's "Connection error"
dialog, or whose page crashed. A broken session: an error, or a page that at the end of its visit shows Streamlit's
connection status (shown only while the websocket is down), or whose websocket (counted in the browser) closed
during the visit or was opened more than once (a reconnect).

--replicas N (bench/replicas.py): deploy/run_replicas.sh N instead of one server (same environment: the bundled
pack, the hub offline), every replica warmed on its own port, the clients sent through the nginx proxy. Per replica:
the sessions that landed there (the proxy's access log: the replica that answered each client's websocket, found
by the client's mma_replica cookie) and the replica's own count of new and resumed sessions (/_stcore/metrics,
session_events) and peak active sessions; its clients' first answers; its peak RSS and CPU. Sticky check: every
request that carried a client's cookie, and its websocket, reached one replica.

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

--client protocol (bench/protocol_client.py): the same links, the same barrier, readiness criterion and error kinds,
but each student is a websocket client speaking Streamlit's protocol from this one process (an HTTP GET of the link,
/_stcore/health and /_stcore/host-config, then /_stcore/stream), with no rendering and no JavaScript: the numbers
measure the server, not N Chromium renderers competing with it for the cores. The warm-up uses the same client.
"page done" is the server's session status going to not-running after the answer; "broken" is an error or a
websocket closed before the end. --verify first checks, on a fresh server, that it shows what Chromium shows.
The clients' CPU column is this process plus its non-server children (Chromium, Playwright's driver).

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
    "floor": ("heading", "^\\s*Answer\\b"),  # bench/floor_app.py
}

POLL = """([kind, arg]) => {
  const ex = document.querySelector('[data-testid="stException"]');
  if (ex) return 'error: exception: ' + (ex.innerText || '').split('\\n').filter(Boolean).slice(0, 2).join(' ');
  const body = document.body ? document.body.innerText : '';
  if (body.includes('Page not found')) return 'error: Page not found';
  if (body.includes('Connection error')) return 'error: Connection error';  // Streamlit's dialog: websocket lost
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


# After the visit: is the page still connected? Streamlit shows its connection status ("Connecting", "Error"...) only
# while the websocket is not up, and a "Connection error" dialog when it gave up.
CONNECTED = """() => {
  const s = document.querySelector('[data-testid="stConnectionStatus"]');
  if (s) return 'disconnected: ' + ((s.innerText || '').trim() || 'status shown');
  if ((document.body ? document.body.innerText : '').includes('Connection error')) return 'Connection error';
  return 'ok';
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
    if scenario == "floor":
        return [("floor", base + "/")] * n
    raise ValueError(f"no scenario {scenario!r} (a, b, c, floor)")


def warm_urls(scenario: str, base: str) -> list[tuple[str, str]]:
    if scenario == "floor":
        return scenario_urls("floor", 1, base)
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
    """Every `every` s: each named process tree's RSS and CPU time (one server: {"server": pid}; replicas: the whole
    run_replicas.sh tree, each replica, nginx); peak RSS (bytes) and mean CPU (% of one core) per name over the run,
    and the browsers' CPU and the whole machine's beside them."""

    def __init__(self, roots: dict[str, int], every: float = 0.5):
        super().__init__(daemon=True)
        self.roots, self.every, self.stop_flag = roots, every, threading.Event()
        self.peak_rss = dict.fromkeys(roots, 0)
        self.cpu_seen: dict[str, float] = {}

    def _sample(self) -> dict[str, tuple[int, float]]:
        parents = _parents()
        out = {name: _rss_cpu(_tree(pid, parents)) for name, pid in self.roots.items()}
        for name, (rss, cpu) in out.items():
            self.peak_rss[name] = max(self.peak_rss[name], rss)
            self.cpu_seen[name] = max(self.cpu_seen.get(name, 0.0), cpu)  # a process that exited keeps its last
        return out

    def run(self):
        while not self.stop_flag.is_set():
            self._sample()
            self.browser_seen.update(_browser_cpu())
            self.stop_flag.wait(self.every)

    def __enter__(self):
        first = self._sample()
        self.start_rss = {name: rss for name, (rss, _) in first.items()}
        self.cpu0 = {name: cpu for name, (_, cpu) in first.items()}
        self.machine0 = _machine_cpu()
        self.t0 = time.monotonic()
        self.browser_seen = _browser_cpu()  # pid -> CPU s, its last sample (the browsers exit before the end)
        self.browser_cpu0 = sum(self.browser_seen.values())
        self.own_cpu0 = sum(os.times()[:2])  # this process: Playwright's Python side, or every protocol client
        self.load1_start = os.getloadavg()[0]
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.join()
        self._sample()
        self.wall = time.monotonic() - self.t0
        self.cpu_pct = {name: 100 * (self.cpu_seen[name] - self.cpu0[name]) / self.wall for name in self.roots}
        busy, total = (b - a for a, b in zip(self.machine0, _machine_cpu()))
        self.machine_busy_pct = 100 * busy / max(total, 1)
        self.load1 = os.getloadavg()[0]
        self.browser_cpu_pct = 100 * (sum(self.browser_seen.values()) - self.browser_cpu0) / self.wall
        self.own_cpu_pct = 100 * (sum(os.times()[:2]) - self.own_cpu0) / self.wall
        self.clients_cpu_pct = self.browser_cpu_pct + self.own_cpu_pct


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
        if b"streamlit" in cmd or b"full_size_app" in cmd or b"run_replicas" in cmd:
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
    websockets: int = 0  # websockets the page opened (Streamlit's session: one; more is a reconnect)
    closed_early: int = 0  # of those, closed before the visit ended
    connection: str = "ok"  # CONNECTED's verdict at the end of the visit
    cookie: str | None = None  # the proxy's mma_replica cookie (--replicas)
    landing: object = None  # bench/replicas.py's Landing: where its requests went (--replicas)

    @property
    def broken(self) -> str | None:
        """Why this student's session is broken: no answer, an exception, or a lost or reopened websocket."""
        if self.error:
            return self.error
        if self.connection != "ok":
            return self.connection
        if self.closed_early:
            return "websocket closed during the visit"
        if self.websockets != 1:
            return f"{self.websockets} websockets"
        return None


async def visit(context, client: Client, go: asyncio.Event, timeout_s: float) -> None:
    page = await context.new_page()
    visiting = True

    def on_socket(ws):
        client.websockets += 1

        def on_close(_ws=None):
            if visiting:
                client.closed_early += 1

        ws.on("close", on_close)

    page.on("websocket", on_socket)
    await go.wait()
    t0 = time.monotonic()
    try:
        await _visit(page, client, t0, timeout_s)
    finally:
        try:
            client.connection = await asyncio.wait_for(page.evaluate(CONNECTED), 15)
        except Exception as e:  # noqa: BLE001 - a crashed page
            client.connection = f"page gone: {type(e).__name__}"
        visiting = False
        try:
            cookies = await asyncio.wait_for(context.cookies(), 15)
            client.cookie = next((c["value"] for c in cookies if c["name"] == "mma_replica"), None)
        except Exception:  # noqa: BLE001
            pass


async def _visit(page, client: Client, t0: float, timeout_s: float) -> None:
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


def protocol_clients(targets: list[tuple[str, str]], timeout_s: float) -> list[Client]:
    """The same visits with bench/protocol_client.py: Streamlit's websocket protocol, no browser, all in this
    process; the same readiness criterion (ANSWER) and the same error kinds."""
    from bench import protocol_client

    visits = asyncio.run(protocol_client.run_visits([(u, ANSWER[page]) for page, u in targets], timeout_s))
    return [Client(page, u, v.answer_s, v.done_s, v.error, v.websockets, v.closed_early, v.connection,
                   v.cookies.get("mma_replica")) for (page, u), v in zip(targets, visits)]


def collect(targets: list[tuple[str, str]], timeout_s: float, per_browser: int, client: str) -> list[Client]:
    """Release every client at once onto its link; client "browser" (Chromium contexts) or "protocol"."""
    if client == "protocol":
        return protocol_clients(targets, timeout_s)
    return asyncio.run(run_clients(targets, timeout_s, per_browser))


# ---------------------------------------------------------------- one run, and the table

def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def secs(x: float) -> str:
    """Seconds for the tables: two decimals under 1 s (one student's 0.04 s is not 0.0), one above."""
    return f"{x:.2f}" if x < 1 else f"{x:.1f}"


def answered(clients: list[Client]) -> list[float]:
    """The clients' times to first answer, for those that got one."""
    return [c.answer_s for c in clients if c.answer_s is not None]


def answer_cell(clients: list[Client]) -> str:
    answers = answered(clients)
    return f"{secs(pct(answers, .5))} / {secs(pct(answers, .95))} / {secs(max(answers))}" if answers else "-"


@dataclass
class ReplicaStat:
    """One replica's share of a --replicas run."""
    port: int
    landed: int  # clients whose websocket the proxy sent here (its access log)
    connects: int  # new sessions the replica itself counted (/_stcore/metrics session_events)
    reconnects: int
    peak_active: int
    answers: str  # first answer p50 / p95 / max of the clients that landed here
    broken: int
    rss_mb: float
    cpu_pct: float


@dataclass
class Result:
    scenario: str
    n: int
    clients: list[Client]
    warm_s: float
    rss_mb: float
    start_rss_mb: float
    cpu_pct: float
    clients_cpu_pct: float  # the clients' CPU, % of one core: Chromium and Playwright, or the protocol clients
    machine_pct: float
    load1: float  # the 1-minute load average at the end of the row
    wall_s: float
    reasons: dict[str, int] = field(default_factory=dict)
    replicas: list[ReplicaStat] = field(default_factory=list)
    nginx: str = ""  # the proxy's peak RSS and CPU
    sticky: str = ""  # the sticky check's summary
    client: str = "browser"  # "browser" (Chromium contexts) or "protocol" (bench/protocol_client.py)
    load1_start: float = 0.0  # the 1-minute load average when the row's clients were released

    def row(self) -> str:
        done = [c.done_s for c in self.clients if c.done_s is not None]
        errors = sum(c.error is not None for c in self.clients)
        broken = sum(c.broken is not None for c in self.clients)
        pd = (f"{secs(pct(done, .5))} / {secs(pct(done, .95))}" if done else "-")
        where = f"{len(self.replicas)} replicas" if self.replicas else "1 server"
        return (f"| {self.scenario} | {self.client} | {where} | {self.n} | {answer_cell(self.clients)} | {pd} "
                f"({len(done)}) | {errors} | {broken} | {self.rss_mb:.0f} (start {self.start_rss_mb:.0f}) | "
                f"{self.cpu_pct:.0f} | {self.clients_cpu_pct:.0f} | {self.machine_pct:.0f} / {self.load1_start:.1f} → "
                f"{self.load1:.1f} | {self.warm_s:.1f} |")

    def replica_rows(self) -> list[str]:
        return [f"| {self.scenario} | {self.n} | :{r.port} | {r.landed} | {r.connects} / {r.reconnects} | "
                f"{r.peak_active} | {r.answers} | {r.broken} | {r.rss_mb:.0f} | {r.cpu_pct:.0f} |"
                for r in self.replicas]


HEADER = ("| scenario | client | server | N | first answer p50 / p95 / max s | page done p50 / p95 s (clients) | "
          "errors | broken sessions | peak server RSS MB | mean server CPU % | clients' CPU % | machine busy % / load "
          "avg start → end | warm-up s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
REPLICA_HEADER = ("| scenario | N | replica | sessions landed (proxy log) | new / resumed sessions (replica's "
                  "metrics) | peak active sessions | first answer p50 / p95 / max s | broken | peak RSS MB | "
                  "mean CPU % |\n|---|---|---|---|---|---|---|---|---|---|")


def _warm(targets: list[tuple[str, str]], timeout_s: float, per_browser: int, client: str) -> float:
    t0 = time.monotonic()
    for c in collect(targets, timeout_s, per_browser, client):
        if c.error:
            print(f"  warm-up {c.page}: {c.error}", file=sys.stderr)
    return time.monotonic() - t0


def one_run(scenario: str, n: int, pack: str, timeout_s: float, per_browser: int, client: str = "browser") -> Result:
    with serve("bench/floor_app.py" if scenario == "floor" else "app.py", pack=pack, within_s=300) as base:
        pid = server_pid(int(base.rsplit(":", 1)[1]))
        warm_s = _warm(warm_urls(scenario, base), timeout_s, per_browser, client)
        with Sampler({"server": pid}) as sampler:
            clients = collect(scenario_urls(scenario, n, base), timeout_s, per_browser, client)
    return Result(scenario, n, clients, warm_s, sampler.peak_rss["server"] / 2**20,
                  sampler.start_rss["server"] / 2**20, sampler.cpu_pct["server"], sampler.clients_cpu_pct,
                  sampler.machine_busy_pct, sampler.load1, sampler.wall, reasons(clients), client=client,
                  load1_start=sampler.load1_start)


def replica_run(scenario: str, n: int, replicas: int, pack: str, timeout_s: float, per_browser: int,
                client: str = "browser") -> Result:
    """deploy/run_replicas.sh `replicas` as the server: every replica warmed directly (its own port), the clients
    through the proxy; per replica, who landed there (the proxy's log, the replica's own counters), its clients'
    answers, its peak RSS and CPU; and whether each client stayed on one replica."""
    from bench import replicas as rep

    with rep.serve_replicas(replicas, pack) as r:
        warm = [t for port in r.ports for t in warm_urls(scenario, r.replica_url(port))]
        warm_s = _warm(warm, timeout_s, per_browser, client)
        roots = {"all": r.proc.pid, "nginx": r.nginx_pid, **{f":{p}": pid for p, pid in r.pids.items()}}
        log_start = r.access_log.stat().st_size if r.access_log.exists() else 0
        with Sampler(roots) as sampler, rep.SessionWatcher(r) as sessions:
            clients = collect(scenario_urls(scenario, n, r.proxy), timeout_s, per_browser, client)
        time.sleep(1)  # nginx logs a websocket when it closes: the browsers just closed theirs
        # run_replicas.sh stops everything when one replica or nginx exits
        gone = [name for name, pid in roots.items() if not rep.alive(pid)]
        with open(r.access_log, "rb") as f:
            f.seek(log_start)
            tail = f.read().decode(errors="replace")
        log_copy = r.log_dir / "run-access.log"
        log_copy.write_text(tail)
        requests = rep.read_access_log(log_copy)
    for c, land in zip(clients, rep.landings(requests, [c.cookie for c in clients])):
        c.landing = land
    stats = []
    for port in r.ports:
        here = [c for c in clients if c.landing and c.landing.replica == f"127.0.0.1:{port}"]
        stats.append(ReplicaStat(port, len(here), sessions.delta(port, "connect"), sessions.delta(port, "reconnect"),
                                 int(sessions.peak_active[port]), answer_cell(here),
                                 sum(c.broken is not None for c in here), sampler.peak_rss[f":{port}"] / 2**20,
                                 sampler.cpu_pct[f":{port}"]))
    lands = [c.landing for c in clients]
    no_cookie = sum(land is None for land in lands)
    known = [land for land in lands if land is not None]
    sticky = sum(land.sticky for land in known)
    one_ws = sum(len(land.websockets) == 1 for land in known)
    first_same = sum(land.first is not None and land.first == land.replica for land in known)
    nginx = (f"nginx: peak RSS {sampler.peak_rss['nginx'] / 2**20:.0f} MB, mean CPU {sampler.cpu_pct['nginx']:.1f}% "
             f"of a core; {len(requests)} requests logged")
    summary = (f"sticky: {sticky} of {len(known)} clients had every request carrying their cookie and their "
               f"websocket on one replica; {one_ws} opened exactly one websocket through the proxy; "
               f"{first_same} of {len(known)} first (cookie-less) page requests reached that same replica"
               + (f"; {no_cookie} clients got no mma_replica cookie" if no_cookie else "")
               + (f"; EXITED during the run: {', '.join(gone)}" if gone else "")
               + "".join(f"; :{p} did not answer /_stcore/metrics {k} times" for p, k in sessions.failures.items()
                         if k))
    return Result(scenario, n, clients, warm_s, sampler.peak_rss["all"] / 2**20, sampler.start_rss["all"] / 2**20,
                  sampler.cpu_pct["all"], sampler.clients_cpu_pct, sampler.machine_busy_pct, sampler.load1,
                  sampler.wall, reasons(clients), stats, nginx, summary, client, sampler.load1_start)


def verify(pack: str, timeout_s: float) -> str:
    """Does the protocol client show what Chromium shows? Scenario a's link and scenario b's third question on a
    fresh server: the page, the answer area, the headings, every main-area text and the number of Plotly charts."""
    from bench import protocol_client

    with serve("app.py", pack=pack, within_s=300) as base:
        links = [(u, ANSWER[page]) for page, u in scenario_urls("a", 1, base) + scenario_urls("b", 3, base)[2:]]
        results = protocol_client.check_same(links, timeout_s=timeout_s)
    out = []
    for url, ours, chromium in results:
        same = [name for name in ("page", "answer_area", "headings", "charts", "texts")
                if getattr(ours, name) == getattr(chromium, name)]
        differ = [name for name in ("page", "answer_area", "headings", "charts", "texts") if name not in same]
        out.append(f"{url.split('?', 1)[1]}: {ours.answer_area[:1]}, {ours.charts} charts, {len(ours.texts)} texts; "
                   + ("same in Chromium" if not differ else f"DIFFERENT in Chromium: {', '.join(differ)}"))
    return "Protocol client vs Chromium: " + "; ".join(out)


def reasons(clients: list[Client]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in clients:
        if c.broken:
            key = f"{c.page}: {c.broken}"
            out[key] = out.get(key, 0) + 1
    return out


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) // 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return f"{model}, {os.cpu_count()} cores, {mem} GiB RAM, Python {platform.python_version()}"


def ratios(results: list[Result]) -> list[str]:
    """Each scenario's p95 first answer at N over its own N = 1, from this one run (the machine's speed drifts
    between runs; a ratio from one run does not)."""
    out = []
    for r in results:
        alone = next((o for o in results if o.scenario == r.scenario and o.n == 1), None)
        if alone is None or r is alone:
            continue
        p95 = [pct(answered(x.clients) or [float("nan")], .95) for x in (r, alone)]
        out.append(f"- {r.scenario}, N={r.n}: p95 {secs(p95[0])} s = {p95[0] / p95[1]:.1f} x N = 1's {secs(p95[1])} s")
    return out


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", default="10,30,60", help="client counts, comma-separated")
    ap.add_argument("--scenarios", default="a,b,c")
    ap.add_argument("--pack", default="bundled", choices=("bundled", "hub"))
    ap.add_argument("--timeout", type=float, default=180, help="seconds a client may wait for its answer")
    ap.add_argument("--per-browser", type=int, default=40, help="contexts per Chromium process")
    ap.add_argument("--replicas", type=int, default=0,
                    help="serve with deploy/run_replicas.sh N (nginx in front, sticky) instead of one server")
    ap.add_argument("--client", default="browser", choices=("browser", "protocol"),
                    help="browser: Chromium contexts (Playwright); protocol: bench/protocol_client.py, Streamlit's "
                         "websocket protocol from this process (no rendering: it measures the server)")
    ap.add_argument("--verify", action="store_true",
                    help="first check on a fresh server that the protocol client shows what Chromium shows for "
                         "scenario a's link and one scenario b question (bench/protocol_client.py check_same)")
    ap.add_argument("--out", help="also append the tables to this file")
    args = ap.parse_args(argv)
    ns = [int(x) for x in args.n.split(",") if x]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if args.replicas and "floor" in scenarios:
        ap.error("the floor scenario runs one server (the replicas serve app.py)")
    where = (f"deploy/run_replicas.sh {args.replicas} (nginx, sticky cookie), fresh per row" if args.replicas
             else "a fresh server per row")
    lines = [f"Machine: {machine()}; load average at start {load()}",
             f"Pack: {args.pack}; client: {args.client}; timeout {args.timeout:.0f} s; {where}"]
    if args.verify:
        lines.append(verify(args.pack, args.timeout))
    lines += ["", HEADER]
    print("\n".join(lines), flush=True)
    notes, results = [], []
    for scenario in scenarios:
        for n in ns:
            r = (replica_run(scenario, n, args.replicas, args.pack, args.timeout, args.per_browser, args.client)
                 if args.replicas else one_run(scenario, n, args.pack, args.timeout, args.per_browser, args.client))
            results.append(r)
            lines.append(r.row())
            print(r.row(), flush=True)
            for line in r.replica_rows() + [r.nginx, r.sticky]:
                if line:
                    print("    " + line, file=sys.stderr, flush=True)
            for reason, count in r.reasons.items():
                notes.append(f"- {scenario}, N={n}: {count} x {reason}")
                print(f"    {count} x {reason}", file=sys.stderr, flush=True)
    if args.replicas:
        lines += ["", "Per replica:", "", REPLICA_HEADER]
        lines += [row for r in results for row in r.replica_rows()]
        lines += [""] + [f"- {r.scenario}, N={r.n}: {r.sticky}; {r.nginx}" for r in results]
    lines += ["", f"Load average at end {load()}", *notes]
    if ratio_lines := ratios(results):
        lines += ["", "Time to first answer against one student's, p95 (same run):", *ratio_lines]
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(lines) + "\n\n")
    print("\n".join(lines[lines.index(HEADER) + 1 + len(results):]))


if __name__ == "__main__":
    main()
