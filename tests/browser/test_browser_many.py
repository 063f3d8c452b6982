"""Eight students at once against one real server: each opens a shared link to the cross-attention page with its
own question at the same moment; every one gets its own right answer, and the server's memory stays bounded."""
from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

from core.inputs import images
from tests.browser.test_browser import ARTIFACTS, _assert_no_exception, browser, server  # noqa: F401

SESSIONS = 8
SERVER_RSS_GROWTH_LIMIT_MB = 800  # one model set is shared; what grows is eight sessions' widgets and results


def server_rss_mb(port: int) -> float:
    """Resident memory of the `streamlit run` process listening on `port` (found by its command line)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(argv) and str(port).encode() in argv:
            status = (proc / "status").read_text()
            return int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1]) / 1024
    raise AssertionError(f"no streamlit process on port {port}")


def questions_and_answers() -> list[tuple[str, str]]:
    scene = images.sample_scene("shapes: two objects")
    pairs = [(f"what color is the {o.shape}?", o.color) for o in scene.objects]
    pairs += [(f"what shape is the {o.color} object?", o.shape) for o in scene.objects]
    pairs.append(("how many objects are there?", "two"))
    return (pairs * 2)[:SESSIONS]


def test_eight_sessions_at_once_each_get_their_own_answer(server, browser):  # noqa: F811
    port = int(server.rsplit(":", 1)[1])
    asked = questions_and_answers()
    warm = browser.new_page()  # one session first, so the models are loaded before the crowd arrives
    warm.goto(server)
    warm.get_by_role("heading", name="Where text meets vision").first.wait_for(timeout=90_000)
    before = server_rss_mb(port)
    contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in asked]
    pages = [context.new_page() for context in contexts]
    start = time.time()
    for page, (question, _) in zip(pages, asked):  # all eight requests leave before any answer is awaited
        query = urllib.parse.urlencode({"page": "cross-attention", "image": "shapes: two objects", "text": question,
                                        "pack": "bundled"})
        page.goto(f"{server}/?{query}", wait_until="commit")
    for i, (page, (question, answer)) in enumerate(zip(pages, asked)):
        page.get_by_role("heading", name=f"Answer: {answer}", exact=True).first.wait_for(timeout=180_000)
        _assert_no_exception(page, f"session {i} ({question})")
    seconds = time.time() - start
    after = server_rss_mb(port)
    ARTIFACTS.mkdir(exist_ok=True)
    pages[0].screenshot(path=str(ARTIFACTS / "eight-sessions-first.png"))
    print(f"{SESSIONS} sessions answered in {seconds:.1f} s; server RSS {before:.0f} -> {after:.0f} MB")
    assert after - before < SERVER_RSS_GROWTH_LIMIT_MB
    for context in contexts:
        context.close()
    warm.close()
