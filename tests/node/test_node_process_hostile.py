"""A real ``iomtshare node start`` process against the body that used to kill it, and its shutdown.

The nesting body crashed the process (py_ecc's import raises the recursion limit to 100,000,
so ``json.loads`` overflowed the C stack: a segfault, nothing in the log). Only a real process
shows it: the C stack and the recursion limit are the node process's own.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.node.processes import running_network

NESTING = b"[" * 100_000 + b"]" * 100_000

pytestmark = [pytest.mark.timeout(180)]


def test_a_node_process_survives_the_nesting_body_and_stops_cleanly(tmp_path: Path) -> None:
    with running_network(tmp_path / "net", 2) as nodes:
        for _ in range(2):
            response = httpx.post(
                nodes.url(1) + "/tx",
                content=NESTING,
                headers={"content-type": "application/json"},
                timeout=30,
            )
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "bad_request"
        assert nodes.procs[1].poll() is None, nodes.log_tail(1)
        assert nodes.status(1)["node_index"] == 1
        logs = {index: nodes.home(index) / "node.log" for index in (1, 2)}
        # Node 1 first: node 2, still up, sees the link drop and dials back while node 1
        # shuts down; that late connection used to print libp2p LifecycleError tracebacks.
        assert nodes.stop(1) == 0  # SIGTERM; 0 is a clean stop
        assert nodes.stop(2) == 0
    for index, log in logs.items():
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, f"node {index}:\n{text[-3000:]}"
        assert "shutdown signal=SIGTERM" in text
