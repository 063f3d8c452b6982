"""The classroom load test's replica mode (`python -m bench.classroom --replicas N`): deploy/run_replicas.sh N as the
server, and what each replica saw.

Three views of where each student's session landed, read independently:
- the proxy's access log (run_replicas.sh writes it with deploy/nginx.conf's `mma_upstream` format): every request
  with the browser's `mma_replica` cookie and the replica that answered it (`$upstream_addr`); the cookie a browser
  was handed is its first request's `$request_id`, so that first, cookie-less request is found too;
- each replica's own counters, `/_stcore/metrics` (Streamlit's session_events connect / reconnect / disconnect and
  active_sessions), read from the replica's port directly, before and after the clients and every 2 s between;
- the browser: the client's websockets (bench/classroom.py counts them and any that closed before the end).
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
STREAM = "/_stcore/stream"


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> int:
    """The first of n consecutive free ports on 127.0.0.1 (run_replicas.sh takes a base port)."""
    for base in range(20000 + os.getpid() % 1000 * 10, 60000, 97):
        if all(_bindable(base + i) for i in range(n)):
            return base
    raise RuntimeError(f"no {n} consecutive free ports")


def _get(url: str, timeout: float = 2) -> str:
    with DIRECT.open(url, timeout=timeout) as r:
        return r.read().decode(errors="replace")


def _descendants(pid: int) -> list[tuple[int, list[bytes]]]:
    """(pid, command line) of every process below pid."""
    from bench.classroom import _parents, _tree

    out = []
    for p in _tree(pid, _parents())[1:]:
        try:
            out.append((p, Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")))
        except OSError:
            continue
    return out


@dataclass
class Replicas:
    """A running deploy/run_replicas.sh: the proxy's URL, each replica's port and pid, nginx's master pid."""
    proc: subprocess.Popen
    proxy: str
    ports: list[int]
    pids: dict[int, int]
    nginx_pid: int
    log_dir: Path

    @property
    def access_log(self) -> Path:
        return self.log_dir / "proxy-access.log"

    def replica_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def serve_replicas(n: int, pack: str = "bundled", within_s: float = 300):
    """deploy/run_replicas.sh n on free ports, with the single-server run's environment (bench/browser.py's serve:
    MMA_PACK, the hub offline); yields a Replicas once the proxy answers /_stcore/health. SIGTERM on exit (the
    script stops nginx and every replica)."""
    if pack != "bundled":
        raise SystemExit("--replicas runs app.py through deploy/entrypoint.sh: the bundled pack only")
    base, proxy_port = free_ports(n), None
    for port in range(base + n + 1, base + n + 200):
        if _bindable(port):
            proxy_port = port
            break
    log_dir = Path(tempfile.mkdtemp(prefix="mma-classroom-replicas."))
    env = dict(os.environ, MMA_PACK=pack, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT),
               PYTHON=sys.executable, BASE_PORT=str(base), PROXY_PORT=str(proxy_port), LOG_DIR=str(log_dir),
               READY_S=str(int(within_s)))
    out = open(log_dir / "run_replicas.out", "wb")
    proc = subprocess.Popen(["bash", "deploy/run_replicas.sh", str(n)], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    proxy = f"http://127.0.0.1:{proxy_port}"
    ports = [base + i for i in range(n)]
    pids, nginx_pid = {}, None
    try:
        deadline = time.time() + within_s + 30
        while True:
            try:
                if _get(proxy + "/_stcore/health") == "ok":
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("run_replicas.sh did not start:\n"
                                   + (log_dir / "run_replicas.out").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        for pid, cmd in _descendants(proc.pid):
            if any(b"streamlit" in part for part in cmd):
                for port in ports:
                    if str(port).encode() in cmd:
                        pids[port] = pid
            elif cmd and (cmd[0].startswith(b"nginx: master") or cmd[0].endswith(b"nginx")):
                nginx_pid = pid  # the master ("nginx: master process ..."; the worker is its child)
        if len(pids) != n or nginx_pid is None:
            raise RuntimeError(f"found replicas {pids} and nginx {nginx_pid} under run_replicas.sh")
        yield Replicas(proc, proxy, ports, pids, nginx_pid, log_dir)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in [*pids.values(), nginx_pid]:  # the script's cleanup did not finish: no orphans left behind
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)
        out.close()


# ---------------------------------------------------------------- each replica's own session counters

def session_counts(url: str) -> dict[str, float]:
    """A replica's /_stcore/metrics: {'connect': .., 'reconnect': .., 'disconnect': .., 'active': ..}."""
    text = _get(url + "/_stcore/metrics?families=session_events&families=active_sessions", timeout=5)
    out = {}
    for line in text.splitlines():
        m = re.match(r'session_events(?:_total)?\{type="(\w+)"\}\s+(\S+)', line)
        if m:
            out[m.group(1)] = float(m.group(2))
        m = re.match(r"active_sessions(?:\{\})?\s+(\S+)", line)
        if m:
            out["active"] = float(m.group(1))
    return out


class SessionWatcher(threading.Thread):
    """Every `every` s, each replica's session counters; the counters at start and end (a replica that stopped
    answering: its last answer, and `failures` counts the misses), and peak active sessions."""

    def __init__(self, replicas: Replicas, every: float = 2.0):
        super().__init__(daemon=True)
        self.replicas, self.every, self.stop_flag = replicas, every, threading.Event()
        self.peak_active = {p: 0.0 for p in replicas.ports}
        self.failures = {p: 0 for p in replicas.ports}
        self.last: dict[int, dict[str, float]] = {p: {} for p in replicas.ports}

    def _read(self) -> dict[int, dict[str, float]]:
        out = {}
        for port in self.replicas.ports:
            try:
                out[port] = self.last[port] = session_counts(self.replicas.replica_url(port))
            except OSError:
                self.failures[port] += 1
                out[port] = self.last[port]
            self.peak_active[port] = max(self.peak_active[port], out[port].get("active", 0.0))
        return out

    def run(self):
        while not self.stop_flag.wait(self.every):
            self._read()

    def __enter__(self):
        self.start_counts = self._read()
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.join()
        self.end_counts = self._read()

    def delta(self, port: int, kind: str) -> int:
        return int(self.end_counts[port].get(kind, 0) - self.start_counts[port].get(kind, 0))


# ---------------------------------------------------------------- the proxy's access log

def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class Request:
    t: float
    request_id: str
    cookie: str
    upstream: str  # the replica that answered last (nginx lists every one it tried, comma-separated)
    status: int
    uri: str


LINE = re.compile(r'(\S+) (\S+) "([^"]*)" "([^"]*)" (\d+) (\S+) "([^"]*)"')


def read_access_log(path: Path) -> list[Request]:
    out = []
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        m = LINE.match(line)
        if m:
            t, rid, cookie, upstream, status, _, uri = m.groups()
            upstream = upstream.split(",")[-1].strip().split(" : ")[-1].strip()
            out.append(Request(float(t), rid, "" if cookie == "-" else cookie, upstream, int(status), uri))
    return out


@dataclass
class Landing:
    """Where one browser's requests went, by its mma_replica cookie."""
    cookie: str
    first: str | None = None  # the replica that answered its first, cookie-less request (the page's HTML)
    upstreams: set[str] = field(default_factory=set)  # replicas that answered its requests with the cookie
    websockets: list[str] = field(default_factory=list)  # the replica of each of its websockets

    @property
    def replica(self) -> str | None:
        return self.websockets[0] if self.websockets else (min(self.upstreams) if self.upstreams else None)

    @property
    def sticky(self) -> bool:
        """Every request that carried the cookie, and the websocket, on one replica."""
        return len(self.upstreams | set(self.websockets)) == 1


def landings(requests: list[Request], cookies: list[str | None]) -> list[Landing | None]:
    by_cookie: dict[str, list[Request]] = {}
    by_id = {r.request_id: r for r in requests}
    for r in requests:
        by_cookie.setdefault(r.cookie, []).append(r)
    out = []
    for cookie in cookies:
        if not cookie:
            out.append(None)
            continue
        land = Landing(cookie)
        if cookie in by_id:
            land.first = by_id[cookie].upstream
        for r in by_cookie.get(cookie, []):
            if r.uri.startswith(STREAM):
                land.websockets.append(r.upstream)
            else:
                land.upstreams.add(r.upstream)
        out.append(land)
    return out
