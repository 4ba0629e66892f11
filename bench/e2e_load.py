"""``bench e2e``'s sustained load (:mod:`bench.load`) on a testnet: the request it sends and
the node processes whose CPU it reads."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from bench import load
from bench.e2e_fixture import Fixture
from bench.load import LoadPlan
from bench.report import Progress, quiet
from client import NodeClient
from client.requester import open_metadata, request_access, wait_decision
from client.session import Session
from crypto.groups import Group
from testnet.launcher import PID_FILE
from testnet.layout import Network


class LoadClient:
    """The request :mod:`bench.load` sends: request -> decision -> decrypted metadata, the same
    path as a low-load run, rotating over nodes and requesters; one session per node, shared
    by every worker thread (its HTTP pool is sized for every request that may be in flight)."""

    def __init__(self, fixture: Fixture, group: Group, plan: LoadPlan) -> None:
        self.fixture = fixture
        limits = httpx.Limits(max_connections=plan.max_in_flight,
                              max_keepalive_connections=plan.max_in_flight)
        # Calls are bounded by the request timeout. A 503 is not retried: an open-loop request
        # refused as busy counts as refused (its own error kind), not as a late success.
        budget = plan.request_timeout_s
        self.sessions = [
            Session(NodeClient(node.http_url, timeout=budget, retry_budget=0.0,
                               transport=httpx.HTTPTransport(limits=limits)), group)
            for node in fixture.network.nodes
        ]
        for session in self.sessions:  # fetched once now, not inside the first measured requests
            session.keywords_hash(fixture.record_id)
            _ = session.chain_id  # loads the genesis
        self._lock = threading.Lock()
        self._count = 0

    def __call__(self, deadline: float) -> None:
        with self._lock:
            i, self._count = self._count, self._count + 1
        session = self.sessions[i % len(self.sessions)]
        keys = self.fixture.requesters[i % len(self.fixture.requesters)]
        request_id = request_access(session, keys, self.fixture.record_id, attributes=())
        decision = wait_decision(session, request_id, deadline - time.perf_counter())
        open_metadata(session, keys, self.fixture.record_id, decision)

    def close(self) -> None:
        for session in self.sessions:
            session.client.close()


def node_pids(network: Network) -> dict[str, int]:
    """``node{i}`` -> pid of each node the launcher recorded (a testnet run some other way has
    none, and its CPU shares are not reported)."""
    pids = {}
    for node in network.nodes:
        try:
            pids[f"node{node.index}"] = int((network.directory / node.home / PID_FILE).read_text())
        except (OSError, ValueError):
            continue
    return pids


def sustained(
    fixture: Fixture, group: Group, plan: LoadPlan, progress: Progress = quiet
) -> dict[str, Any]:
    """:func:`bench.load.sweep` of ``plan`` on the fixture's network; its JSON figures."""
    client = LoadClient(fixture, group, plan)
    try:
        steps = load.sweep(client, plan, node_pids(fixture.network), progress)
    finally:
        client.close()
    return load.payload(steps, plan)
