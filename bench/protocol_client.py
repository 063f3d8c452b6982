"""A Streamlit client without a browser: the app's websocket protocol, spoken the way the frontend speaks it.

`bench.classroom --client protocol` uses it to load-test one server with hundreds of students from one process,
so that the numbers measure the server, not N Chromium renderers competing with it for the same cores.

What one visit does (each step is what Chromium was seen doing for the same link, captured with Playwright):
  1. GET the link (the app's index.html: the server sets the _streamlit_xsrf cookie), /_stcore/health and
     /_stcore/host-config, keeping cookies (a proxy's sticky cookie, bench/replicas.py, rides along);
  2. open ws://HOST/_stcore/stream with subprotocols ["streamlit", <xsrf token>] and the cookies, Origin set;
  3. send one BackMsg `rerun_script` whose ClientState carries the link's query string, the page named by the
     URL's path (none for the home route `/?page=...`), empty widget states and the browser's context info;
  4. read ForwardMsgs: `new_session` (a script run starts; its `page_script_hash` and `app_pages` say which page
     the server is running; app.py's st.switch_page for `?page=` starts a second run without any BackMsg),
     `delta` (an element or a block at `metadata.delta_path`), `script_finished`, `session_status_changed`,
     `page_not_found`. Deltas are kept in a tree keyed by delta path, each node tagged with the run that wrote it;
     a run that finishes successfully drops the nodes it did not rewrite, as the frontend does.

Cached messages: Streamlit 1.67 has no /_stcore/message endpoint any more; a client lists the hashes of the big
messages it holds in ClientState.cached_message_hashes and the server then sends a `ref_hash` reference instead.
This client keeps every cacheable message by hash, sends what it holds with each rerun and resolves references
from that cache (a fresh visit holds none, exactly like a fresh browser context, so a first visit gets every
message in full). A reference it cannot resolve is an error.

Readiness (time to first answer) uses bench/classroom.py's ANSWER table unchanged: ("heading", regex) matches the
text of an h1-h4 heading (st.title/header/subheader, or a markdown line starting with one to four '#'), and
("selector", '[data-testid="stPlotlyChart"]') a plotly_chart element. Errors mirror the browser poll: an exception
element, a page_not_found message, or the websocket closing ("Connection error").

`check_same(links)` renders the same links in Chromium and compares the answer area's texts, the page's
headings and the number of Plotly charts (tests/browser/test_protocol_client.py runs it).
"""
from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

SELECTORS = {'[data-testid="stPlotlyChart"]': "plotly_chart"}  # a browser selector -> the element type it finds
TEXT_TYPES = ("heading", "markdown", "alert")  # what "element texts" compares (captions are markdown)
MAIN = 0  # delta_path[0]: the main area (1 is the sidebar)
FINISHED = ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY
LATEX = "<formula>"  # a $$ formula: KaTeX's rendering is not its source, so both sides show this placeholder


# ---------------------------------------------------------------- markdown to the text a browser shows

_ICON = re.compile(r":material/([a-z0-9_]+):")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"[*_`\\]")
_LINE_START = re.compile(r"(?m)^\s*(#{1,6}\s+|[-+]\s+|>\s*)")


def plain(text: str) -> str:
    """Markdown source or a browser's innerText -> comparable plain text: emphasis, escapes, list and heading marks
    dropped, a Material icon as its name (the browser shows the icon's ligature name as text), links as their
    text, whitespace collapsed. Applied to both sides, so it only forgives markup, never a different word."""
    text = _ICON.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _LINE_START.sub("", text)
    text = _MARKUP.sub("", text)
    return " ".join(text.split())


def heading_texts(kind: str, element) -> list[str]:
    """The h1-h4 texts an element shows: a heading element's body, or markdown lines starting with 1-4 '#'."""
    if kind == "heading":
        return [plain(element.heading.body)] if element.heading.tag in ("h1", "h2", "h3", "h4", "") else []
    if kind == "markdown":
        return [plain(line) for line in element.markdown.body.splitlines() if re.match(r"^\s*#{1,4}\s", line)]
    return []


# ---------------------------------------------------------------- the element tree

@dataclass
class Node:
    kind: str  # "block" or the element's type ("heading", "markdown", "plotly_chart", ...)
    proto: object  # the Element or Block message
    run: int  # which script run wrote it (the count of new_session messages so far)


@dataclass
class Tree:
    """Delta path -> node, as the frontend's tree keeps it (enough of it to find elements and read their text)."""
    nodes: dict[tuple[int, ...], Node] = field(default_factory=dict)
    run: int = 0

    def apply(self, path: tuple[int, ...], delta) -> tuple[str, object] | None:
        """One delta; returns (element type, element) for a new element, else None."""
        what = delta.WhichOneof("type")
        if what == "new_element":
            element = delta.new_element
            kind = element.WhichOneof("type")
            old = self.nodes.get(path)
            if old is not None and old.kind == "block":  # an element replacing a block drops the block's children
                self._drop(lambda p: p[:len(path)] == path and len(p) > len(path))
            self.nodes[path] = Node(kind, element, self.run)
            return kind, element
        if what == "add_block":
            self.nodes[path] = Node("block", delta.add_block, self.run)
        return None  # new_transient (spinners and the like): not part of the page's content

    def finished(self) -> None:
        """A run finished successfully: what it did not rewrite is stale and goes (the frontend's clearStaleNodes)."""
        self._drop(lambda p: self.nodes[p].run != self.run)

    def _drop(self, which) -> None:
        for p in [p for p in self.nodes if which(p)]:
            del self.nodes[p]

    def elements(self, area: int | None = MAIN, *, in_collapsed: bool = True) -> list[tuple[tuple, Node]]:
        """Elements in page order (delta paths sorted), in one area (None: all); in_collapsed False leaves out
        what sits in a collapsed expander."""
        out = []
        for path in sorted(self.nodes):
            node = self.nodes[path]
            if node.kind == "block" or (area is not None and path[0] != area):
                continue
            if not in_collapsed and self._collapsed(path):
                continue
            out.append((path, node))
        return out

    def _collapsed(self, path: tuple[int, ...]) -> bool:
        for i in range(1, len(path)):
            node = self.nodes.get(path[:i])
            if node is not None and node.kind == "block" and node.proto.WhichOneof("type") == "expandable" and \
                    not node.proto.expandable.expanded:
                return True
        return False

    def texts(self, area: int | None = MAIN, in_collapsed: bool = True) -> list[tuple[str, str]]:
        """(type, plain text) of the text elements: headings, markdown (captions included), alerts; a $$ formula
        as LATEX."""
        out = []
        for _, n in self.elements(area, in_collapsed=in_collapsed):
            if n.kind in TEXT_TYPES:
                body = getattr(n.proto, n.kind).body
                out.append((n.kind, LATEX if n.kind == "markdown" and body.strip().startswith("$$") else plain(body)))
        return out

    def count(self, kind: str, area: int | None = MAIN, in_collapsed: bool = True) -> int:
        return sum(n.kind == kind for _, n in self.elements(area, in_collapsed=in_collapsed))


# ---------------------------------------------------------------- HTTP, the little the frontend asks before the socket

async def http_get(url: str, cookies: dict[str, str], timeout_s: float) -> int:
    """One GET over a fresh connection (HTTP/1.1, Connection: close); stores Set-Cookie values; returns the status."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    jar = "".join(f"Cookie: {'; '.join(f'{k}={v}' for k, v in cookies.items())}\r\n" if cookies else "")
    request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: mma-protocol-client\r\n"
               f"Accept: */*\r\n{jar}Connection: close\r\n\r\n")

    async def go() -> int:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        try:
            writer.write(request.encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.read()  # the body: read and dropped, as the browser reads it
        finally:
            writer.close()
        lines = head.decode("latin-1").split("\r\n")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "set-cookie":
                for morsel in SimpleCookie(value.strip()).values():
                    cookies[morsel.key] = morsel.value
        return int(lines[0].split()[1])

    return await asyncio.wait_for(go(), timeout_s)


# ---------------------------------------------------------------- one visit

@dataclass
class Visit:
    """What one protocol client saw. Times are seconds from the release (the barrier)."""
    url: str
    ready: tuple[str, str]  # bench.classroom.ANSWER's (kind, argument) for the page
    answer_s: float | None = None
    done_s: float | None = None  # the server said the script stopped running after the answer
    error: str | None = None
    websockets: int = 0
    closed_early: int = 0
    connection: str = "ok"
    cookies: dict[str, str] = field(default_factory=dict)
    page_name: str | None = None  # the page the last new_session ran (its app_pages entry's url_pathname)
    tree: Tree = field(default_factory=Tree)
    cache: dict[str, ForwardMsg] = field(default_factory=dict)  # cacheable messages by hash
    messages: int = 0
    bytes: int = 0
    refs: int = 0  # ref_hash messages resolved from the cache

    def matches(self, kind: str, element) -> bool:
        ready_kind, arg = self.ready
        if ready_kind == "selector":
            if arg not in SELECTORS:
                raise ValueError(f"no element type known for the selector {arg!r}: add it to SELECTORS")
            return kind == SELECTORS[arg]
        pattern = re.compile(arg)
        return any(pattern.search(text) for text in heading_texts(kind, element))


def rerun_message(url: str, page_script_hash: str = "", cached: tuple[str, ...] = ()) -> BackMsg:
    """The BackMsg the frontend sends once the websocket is up: rerun with the URL's query string and path."""
    parts = urlsplit(url)
    msg = BackMsg()
    state = msg.rerun_script
    state.query_string = parts.query
    state.page_script_hash = page_script_hash
    state.page_name = parts.path.strip("/")  # the home route: "" (the server runs the default page)
    state.widget_states.SetInParent()  # present and empty, as the browser sends it
    state.cached_message_hashes.extend(cached)
    info = state.context_info
    info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
    info.url = f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"  # the browser sends the URL without its query
    info.is_embedded, info.color_scheme = False, "light"
    return msg


async def visit(v: Visit, go: asyncio.Event, timeout_s: float, hold: asyncio.Event | None = None,
                wait_done: bool = True, read: asyncio.Event | None = None) -> Visit:
    """Wait for the release, then visit v.url; record the time to the first element matching v.ready and, with
    wait_done, until the script stops running. Then set `read`, and with `hold` keep the websocket (the session)
    open until hold is set, as a browser tab stays open until the whole class is done."""
    from websockets.asyncio.client import connect

    await go.wait()
    t0 = time.monotonic()
    left = lambda: max(0.5, timeout_s - (time.monotonic() - t0))  # noqa: E731
    parts = urlsplit(v.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    ws_url = ("wss" if parts.scheme == "https" else "ws") + f"://{parts.netloc}/_stcore/stream"
    ws = None
    try:
        for url in (v.url, origin + "/_stcore/health", origin + "/_stcore/host-config"):
            status = await http_get(url, v.cookies, left())
            if status >= 400:
                v.error = f"HTTP {status} from {urlsplit(url).path}"
                return v
        xsrf = v.cookies.get("_streamlit_xsrf", "")
        headers = {"Cookie": "; ".join(f"{k}={val}" for k, val in v.cookies.items())} if v.cookies else None
        ws = await asyncio.wait_for(connect(
            ws_url, subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"], origin=origin,
            additional_headers=headers, max_size=None, open_timeout=left(), ping_interval=None,
            user_agent_header="mma-protocol-client"), left())
        v.websockets += 1
        await ws.send(rerun_message(v.url).SerializeToString())
        await asyncio.wait_for(_read(ws, v, t0, wait_done), left())
    except asyncio.TimeoutError:
        if v.answer_s is None and v.error is None:
            v.error = f"no answer in {timeout_s:.0f} s"
    except Exception as e:  # noqa: BLE001 - a refused connection or a closed socket is this client's error
        name = type(e).__name__
        if v.error is None:
            v.error = ("Connection error" if "Closed" in name else f"{name}: {str(e)[:120]}") \
                if v.answer_s is None else None
        if "Closed" in name:
            v.closed_early += 1
            v.connection = "websocket closed"
    finally:
        if read is not None:
            read.set()
    if ws is not None:
        try:
            if hold is not None:
                await hold.wait()
            if ws.state.name != "OPEN" and v.connection == "ok":
                v.connection = "websocket closed"
                v.closed_early += 1
        finally:
            await ws.close()
    return v


async def _read(ws, v: Visit, t0: float, wait_done: bool) -> None:
    pages: dict[str, str] = {}
    while True:
        data = await ws.recv()
        v.messages += 1
        v.bytes += len(data)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        if msg.HasField("ref_hash"):  # a big message the client said it holds: take it from the cache
            cached = v.cache.get(msg.ref_hash)
            if cached is None:
                v.error = f"unknown cached message {msg.ref_hash}"
                return
            full = ForwardMsg()
            full.CopyFrom(cached)
            full.metadata.CopyFrom(msg.metadata)
            msg = full
            v.refs += 1
        elif msg.metadata.cacheable and msg.hash:
            v.cache[msg.hash] = msg
        what = msg.WhichOneof("type")
        if what == "new_session":
            v.tree.run += 1
            v.page_name = pages.get(msg.new_session.page_script_hash, v.page_name)
        elif what == "navigation":  # st.navigation's pages (its hashes name the page a new_session runs)
            pages.update({p.page_script_hash: p.url_pathname for p in msg.navigation.app_pages})
            v.page_name = pages.get(msg.navigation.page_script_hash, v.page_name)
        elif what == "delta":
            new = v.tree.apply(tuple(msg.metadata.delta_path), msg.delta)
            if new is None:
                continue
            kind, element = new
            if kind == "exception" and v.answer_s is None:
                lines = [x for x in (element.exception.type, element.exception.message) if x]
                v.error = "exception: " + " ".join(lines)[:200]
                return
            if v.answer_s is None and v.matches(kind, element):
                v.answer_s = time.monotonic() - t0
                if not wait_done:
                    return
        elif what == "page_not_found":
            v.error = "Page not found"
            return
        elif what == "script_finished":
            if msg.script_finished == FINISHED:
                v.tree.finished()
        elif what == "session_status_changed" and not msg.session_status_changed.script_is_running:
            if v.answer_s is not None:
                v.done_s = time.monotonic() - t0
                return


async def run_visits(urls: list[tuple[str, tuple[str, str]]], timeout_s: float, wait_done: bool = True) -> list[Visit]:
    """Every (url, ready) as one client, all released together; sessions stay open until the last is done."""
    visits = [Visit(url, ready) for url, ready in urls]
    go, hold = asyncio.Event(), asyncio.Event()
    read = [asyncio.Event() for _ in visits]
    tasks = [asyncio.create_task(visit(v, go, timeout_s, hold, wait_done, r)) for v, r in zip(visits, read)]
    await asyncio.sleep(0)  # every task is waiting at the barrier
    go.set()
    for r in read:
        await r.wait()
    hold.set()
    await asyncio.gather(*tasks)
    return visits


def visit_all(urls: list[tuple[str, tuple[str, str]]], timeout_s: float, wait_done: bool = True) -> list[Visit]:
    """run_visits from synchronous code, on a thread of its own (Playwright's sync API keeps an event loop running
    in the caller's thread, where asyncio.run is refused)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run_visits(urls, timeout_s, wait_done)).result()


# ---------------------------------------------------------------- does it render the same? (the browser beside it)

ANSWER_AREA = 3  # the answer heading and the text elements right after it (caption, cost line, notes) compared

BROWSER_TEXTS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return {texts: [], charts: 0, headings: [], running: true};
  const sel = '[data-testid="stHeading"], [data-testid="stMarkdown"], [data-testid="stCaptionContainer"], ' +
              '[data-testid="stAlert"]';
  const out = [];
  for (const el of main.querySelectorAll(sel)) {
    if (el.parentElement.closest(sel)) continue;  // the markdown container inside a heading or an alert
    if (el.closest('[data-testid="stExpander"] details:not([open])')) continue;
    out.push(el.querySelector('.katex-display') ? '%s' : (el.innerText || ''));
  }
  return {texts: out, charts: main.querySelectorAll('[data-testid="stPlotlyChart"]').length,
          headings: Array.from(main.querySelectorAll('[data-testid="stHeading"]')).map(h => h.innerText || ''),
          running: !!document.querySelector('[data-testid="stStatusWidget"]')};
}""" % LATEX


@dataclass
class Rendering:
    """What one client shows of a page: its path, the answer area, the headings (st.title/header/subheader), the
    number of Plotly charts, and every text element of the main area outside collapsed expanders (plain text)."""
    page: str | None
    answer_area: list[str]
    headings: list[str]
    charts: int
    texts: list[str] = field(default_factory=list)


def answer_area(texts: list[str]) -> list[str]:
    """From the first text starting with "Answer", ANSWER_AREA texts; [] when there is none."""
    for i, text in enumerate(texts):
        if re.match(r"^\s*Answer\b", text):
            return texts[i:i + ANSWER_AREA]
    return []


def protocol_rendering(v: Visit) -> Rendering:
    texts = [text for _, text in v.tree.texts(in_collapsed=False)]
    headings = [plain(n.proto.heading.body) for _, n in v.tree.elements() if n.kind == "heading"]
    return Rendering(v.page_name, answer_area(texts), headings, v.tree.count("plotly_chart"), texts)


def browser_rendering(context, url: str, expect: Rendering | None = None, timeout_s: float = 90) -> Rendering:
    """Chromium (a new tab of a Playwright sync BrowserContext: its own websocket, so its own Streamlit session) on
    the same link, read once the page is idle (no status widget for 1 s) and shows `expect` (Plotly and KaTeX load
    lazily: a chart may come seconds after its element), or, with no `expect`, once the reading stays the same for
    2 s; at the deadline, what it shows then."""
    page = context.new_page()
    try:
        page.goto(url)
        deadline = time.time() + timeout_s
        last, since, seen = None, time.time(), None
        while time.time() < deadline:
            raw = page.evaluate(BROWSER_TEXTS)
            if raw != last:
                last, since = raw, time.time()
            texts = [plain(t) for t in raw["texts"]]
            seen = Rendering(urlsplit(page.url).path.strip("/") or None, answer_area(texts),
                             [plain(t) for t in raw["headings"]], raw["charts"], texts)
            idle = not raw["running"] and raw["headings"] and time.time() - since > 1.0
            if idle and (seen == expect if expect is not None else time.time() - since > 2.0):
                break
            time.sleep(0.25)
        return seen
    finally:
        page.close()


def check_same(links: list[tuple[str, tuple[str, str]]], browser=None,
               timeout_s: float = 90) -> list[tuple[str, Rendering, Rendering]]:
    """Open each (url, ready) with this client and in Chromium (a Playwright sync Browser, or one launched here);
    return (url, protocol's rendering, browser's) for each; the caller compares them. A first protocol pass
    computes and caches the results, so that both compared clients are served the same cached result (the page's
    cost line says "computed now" or "served from cache now")."""
    visit_all(links, timeout_s)
    visits = visit_all(links, timeout_s)
    for v in visits:
        if v.error or v.done_s is None:
            raise AssertionError(f"{v.url}: the protocol client failed: {v.error or 'the run did not finish'}")
    ours = [protocol_rendering(v) for v in visits]
    def read(b) -> list[Rendering]:
        context = b.new_context(viewport={"width": 1400, "height": 2400})  # one context: the app's JS loads once
        try:
            return [browser_rendering(context, url, r, timeout_s) for (url, _), r in zip(links, ours)]
        finally:
            context.close()

    if browser is not None:
        seen = read(browser)
    else:
        from playwright.sync_api import sync_playwright

        from bench.browser import CHROMIUM, CHROMIUM_ARGS

        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                seen = read(b)
            finally:
                b.close()
    return [(v.url, r, s) for v, r, s in zip(visits, ours, seen)]
