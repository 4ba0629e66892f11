"""An interrupted chaos run does not wait for decisions that can no longer come."""

from __future__ import annotations

import socket
import time
from typing import Any, cast

from testnet.chaos.load import LoadGenerator, RequestRecord


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_abandon_drops_queued_waits_and_ends_the_running_ones() -> None:
    # Nothing listens there: every poll fails at once, as with nodes that were stopped.
    load = LoadGenerator([f"http://127.0.0.1:{_closed_port()}"], cast(Any, None), "chain",
                         rate=1.0, decision_timeout_s=600.0, clock=time.monotonic, waiters=2)
    records = [RequestRecord(0, 0.0, request_id=f"{i:064x}", acked_by=1,
                             acked_s=time.monotonic(), outcome="undecided") for i in range(6)]
    futures = [load._waiters.submit(load._await_decision, r, 0, 600.0) for r in records]
    load.abandon()
    # Without abandoning, each wait would poll for its 600 s decision timeout.
    deadline = time.monotonic() + 60
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(f.done() for f in futures)
    assert sum(f.cancelled() for f in futures) >= len(futures) - 2
    assert all(r.outcome == "undecided" and r.decided_s is None for r in records)
