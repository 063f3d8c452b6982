"""Every page's messages, delivered in one batch, build a page the browser accepts.

Streamlit queues a session's outgoing messages and, before sending, folds a newer message for a place on the page
into an older one for the same place that is still waiting. When the server is busy (a class on one link) a whole run
can wait in the queue, and a page that fills one placeholder twice with nested containers then reaches the browser
out of order: a child addressed into a container that the browser has already replaced. The browser's page throws
"Cannot set a node at a delta path" and goes blank (seen in CI: a walk through the pages found no chart for 240 s).

AppTest sends a run's messages through that same queue and never flushes it during the run: the worst case. Here they
are applied in order with the browser's own rules (Streamlit's frontend, AppRoot.addBlock and setNodeAtPath): a
message may address only blocks that exist, and a block replacing a block of another type starts empty.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.testing.v1 import AppTest, app_test

from core.classroom.page_table import PAGE_TABLE
from tests.conftest import ROOT

ROOTS = 4  # main, sidebar, event, bottom


@dataclass
class Node:
    block_type: str | None  # None: an element
    children: list[Node] = field(default_factory=list)


def _set(parent: Node, path: list[int], node: Node, where: list[int]) -> None:
    index, rest = path[0], path[1:]
    if index > len(parent.children):
        raise AssertionError(f"bad delta path index {index} at {where} (the block has {len(parent.children)})")
    if not rest:
        parent.children[index:index + 1] = [node]
        return
    if index == len(parent.children) or parent.children[index].block_type is None:
        raise AssertionError(f"a message for {where + path} addresses {where + [index]}, which is not a block there "
                             "yet: the browser throws 'Cannot set a node at a delta path'")
    _set(parent.children[index], rest, node, where + [index])


def _at(root: Node, path: list[int]) -> Node | None:
    node = root
    for index in path:
        if node.block_type is None or index >= len(node.children):
            return None
        node = node.children[index]
    return node


def apply(root: Node, messages) -> None:
    """Apply a run's messages to the page as the browser does."""
    for message in messages:
        if message.WhichOneof("type") != "delta":
            continue
        delta, path = message.delta, list(message.metadata.delta_path)
        kind = delta.WhichOneof("type")
        if kind == "new_element":
            _set(root, path, Node(None), [])
        elif kind == "add_block":
            block_type = delta.add_block.WhichOneof("type")
            old = _at(root, path)
            kept = old.children if old is not None and old.block_type == block_type else []
            _set(root, path, Node(block_type, kept), [])


@pytest.fixture
def batches(monkeypatch) -> list:
    """Each AppTest run's messages, as its queue holds them at the end of the run."""
    runs = []

    class Recording(app_test.LocalScriptRunner):
        def run(self, *args, **kwargs):
            try:
                return super().run(*args, **kwargs)
            finally:
                runs.append(list(self.forward_msgs()))

    monkeypatch.setattr(app_test, "LocalScriptRunner", Recording)
    return runs


@pytest.mark.parametrize("script", [spec.script for spec in PAGE_TABLE])
def test_a_page_sent_in_one_batch_builds_in_the_browser(batches, script):
    """Home, then the page (a student's first click), then the page again (any widget's rerun), each run's
    messages in one batch onto what the browser shows from the run before."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(script)
    at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    page = Node("root", [Node("vertical") for _ in range(ROOTS)])
    for messages in batches:
        apply(page, messages)
    assert len(batches) == 3 and all(len(m) > 10 for m in batches)  # every run was seen, with its elements


def test_the_browser_model_rejects_a_child_of_a_replaced_container():
    """The rule the test above relies on, on the message order that blanked the page: a placeholder filled with a
    container holding an expander, then refilled (by a fragment) through a wrapper, the old message for the inner
    path folded into its earlier place in the queue."""
    def block(path, kind):
        message = ForwardMsg()
        message.metadata.delta_path[:] = path
        getattr(message.delta.add_block, kind).SetInParent()
        return message

    def element(path):
        message = ForwardMsg()
        message.metadata.delta_path[:] = path
        message.delta.new_element.markdown.body = "x"
        return message

    queue = [block([1, 6], "flex_container"), block([1, 6, 0], "expandable"), block([1, 6, 0, 0], "expandable"),
             element([1, 6, 0, 1]), block([1, 6], "transparent"), block([1, 6, 0], "flex_container"),
             element([1, 6, 0, 0, 0])]
    page = Node("root", [Node("vertical") for _ in range(ROOTS)])
    page.children[1].children = [Node(None) for _ in range(6)]
    with pytest.raises(AssertionError, match="Cannot set a node at a delta path"):
        apply(page, queue)
