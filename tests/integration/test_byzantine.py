"""A Byzantine node process among honest ones: safety, liveness, evidence, clients served.

Four ``iomtshare node start`` processes (quorum and threshold 3, so one Byzantine node is
tolerated); node 4 runs with ``IOMTSHARE_TEST_BYZANTINE`` (:mod:`node.byzantine`), in two
phases, so that withholding does not hide the other misbehaviours:

1. node 4 sends approvals with shares that fail their proof, equivocates on every vote and
   claims each round it claims with two different blocks;
2. node 4 is restarted to withhold every vote, claim and sync reply, and to flood its
   peers with junk frames.

In each phase, owner-grant access requests sent to the honest nodes keep being decided
(granted), and the honest nodes keep answering clients and never believe they lag behind.
They hold the same block hash at every height, every piece of evidence they record names
node 4 (there is some of each kind: bad shares and equivocation), and after they stop
``iomtshare ledger verify`` passes on each. Waits are bounded polls of the HTTP API. One
network for both phases keeps the process starts (slow on a loaded machine) to five.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

from client import MemberKeys, NodeClient
from client.authority import register_member
from client.member import publish_tpre_key
from client.owner import grant_access, put_file
from client.requester import request_access, wait_decision
from client.session import Session
from crypto.groups import load_group
from ledger.transactions import MemberRole
from node.byzantine import TEST_BYZANTINE_ENV
from testnet.layout import create_network
from tests.node.processes import PATIENCE, NodeProcesses

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

HONEST = [1, 2, 3]
BYZANTINE = 4
#: Access requests decided in each phase (one sent to each honest node).
REQUESTS = 3
#: Bound on a node process's start: importing the node takes ~2 s on an idle machine, but
#: ten times that on one as loaded as a shared CI box can be.
STARTUP = 180.0


class ByzantineNetwork(NodeProcesses):
    """Node processes where node :data:`BYZANTINE` runs in :attr:`modes`."""

    def __init__(self, directory: Path, modes: str) -> None:
        super().__init__(create_network(directory, 4, round_timeout_ms=1500))
        self.modes = modes

    def start(self, index: int) -> None:
        extra = {TEST_BYZANTINE_ENV: self.modes} if index == BYZANTINE else {}
        with mock.patch.dict(os.environ, extra):
            super().start(index)

    def restart_byzantine(self, modes: str) -> None:
        self.stop(BYZANTINE)
        self.modes = modes
        self.start(BYZANTINE)

    def log(self, index: int) -> str:
        return (self.home(index) / "node.log").read_text(errors="replace")


@contextmanager
def byzantine_network(directory: Path, modes: str) -> Iterator[ByzantineNetwork]:
    nodes = ByzantineNetwork(directory, modes)
    try:
        for index in range(1, 5):
            nodes.start(index)
        nodes.wait_ready(HONEST, 2, STARTUP)
        yield nodes
    finally:
        nodes.stop_all()


@dataclass(frozen=True)
class GrantedRecord:
    """An owner's record granted to ``requester``, who may ask for it again and again."""

    requester: MemberKeys
    record_id: bytes

    @classmethod
    def make(cls, nodes: ByzantineNetwork) -> GrantedRecord:
        session = Session(NodeClient(nodes.url(1)), load_group())
        authority = nodes.network.authority_key()
        owner = MemberKeys.generate(session.group, MemberRole.OWNER)
        requester = MemberKeys.generate(session.group, MemberRole.REQUESTER)
        for keys in (owner, requester):
            register_member(session, authority, keys.public(), timeout=PATIENCE)
            publish_tpre_key(session, keys, timeout=PATIENCE)
        data = b"spo2,97,98\n" * 100
        record = put_file(session, owner, data, name="spo2.csv", timeout=PATIENCE)
        grant_access(session, owner, record.record_id, requester.member_id, timeout=PATIENCE)
        return cls(requester, record.record_id)

    def decide(self, nodes: ByzantineNetwork) -> None:
        """:data:`REQUESTS` access requests, each sent to an honest node in turn, all granted."""
        for attempt in range(REQUESTS):
            url = nodes.url(HONEST[attempt % len(HONEST)])
            session = Session(NodeClient(url), load_group())
            request_id = request_access(session, self.requester, self.record_id)
            assert wait_decision(session, request_id, PATIENCE).status == "granted"


def chain_of(nodes: ByzantineNetwork, index: int, height: int) -> list[dict[str, Any]]:
    """Node ``index``'s block summaries (hash, proposer, ...) at heights 1..``height``."""
    answer = httpx.get(
        f"{nodes.url(index)}/blocks",
        params={"from": 1, "to": height, "limit": height},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    blocks: list[dict[str, Any]] = answer.json()["blocks"]
    return blocks


def assert_chains_agree(nodes: ByzantineNetwork) -> list[dict[str, Any]]:
    """The honest nodes reach one height with the same hash at every height; returns the
    blocks' summaries."""
    deadline = time.monotonic() + PATIENCE
    while True:
        heights = {int(str(nodes.status(i)["height"])) for i in HONEST}
        if len(heights) == 1:
            break
        assert time.monotonic() < deadline, f"honest nodes stay at heights {heights}"
        time.sleep(0.2)
    height = heights.pop()
    chains = [chain_of(nodes, i, height) for i in HONEST]
    assert len(chains[0]) == height
    assert all(chain == chains[0] for chain in chains)
    return chains[0]


def assert_serving(nodes: ByzantineNetwork) -> None:
    for index in HONEST:
        assert httpx.get(f"{nodes.url(index)}/health", timeout=10).status_code == 200
        assert nodes.status(index)["syncing"] is False


def wait_for_junk(nodes: ByzantineNetwork, index: int) -> None:
    """Wait until node ``index`` has dropped junk frames from node 4 (bounded poll)."""
    deadline = time.monotonic() + PATIENCE
    while "bad consensus message" not in nodes.log(index):
        assert time.monotonic() < deadline, f"node {index} got no junk from node 4"
        time.sleep(0.2)


def evidence_count(nodes: ByzantineNetwork, index: int) -> float:
    """The ``iomtshare_evidence`` gauge of node ``index``'s ``/metrics``."""
    text = httpx.get(f"{nodes.url(index)}/metrics", timeout=10).text
    samples = [line.split()[-1] for line in text.splitlines() if line.startswith("iomtshare_evid")]
    assert len(samples) == 1, samples
    return float(samples[0])


def wait_for_evidence(nodes: ByzantineNetwork, index: int, kind: str) -> None:
    """Wait until node ``index`` has logged evidence of ``kind`` (bounded poll): a peer's share
    is checked in idle time or when a block needs it, so the evidence may be logged a little
    after the blocks the test waited for."""
    deadline = time.monotonic() + PATIENCE
    while not any(found == kind for found, _, _ in evidence_logged(nodes, index)):
        assert time.monotonic() < deadline, f"node {index} logged no {kind} evidence"
        time.sleep(0.2)


def evidence_logged(nodes: ByzantineNetwork, index: int) -> list[tuple[str, str, str]]:
    """(kind, offender, message kind) of every "misbehaviour evidence" line in node
    ``index``'s log."""
    found = []
    for line in nodes.log(index).splitlines():
        if "misbehaviour evidence" in line:
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            found.append((fields["kind"], fields["offender"], fields["about"]))
    return found


def verify_ledgers(nodes: ByzantineNetwork) -> None:
    """Stop every node, then ``iomtshare ledger verify`` each honest node's home."""
    for proc in nodes.procs.values():  # all at once: each takes a while to wind down
        proc.send_signal(signal.SIGTERM)
    for index, proc in list(nodes.procs.items()):
        # On a timeout the network's stop_all still kills what is left.
        assert proc.wait(timeout=PATIENCE) == 0, nodes.log_tail(index)
        del nodes.procs[index]
    checks = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "ledger", "verify", "--home", str(nodes.home(i))],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in HONEST
    ]
    for check in checks:
        output, _ = check.communicate(timeout=PATIENCE)
        assert check.returncode == 0, output


def test_honest_nodes_withstand_a_byzantine_node(tmp_path: Path) -> None:
    lies = "bad-shares,equivocate,conflicting-proposals"
    with byzantine_network(tmp_path / "net", lies) as nodes:
        record = GrantedRecord.make(nodes)
        record.decide(nodes)
        blocks = assert_chains_agree(nodes)
        assert len(blocks) > 3  # node 4 was the preferred leader at height 3
        assert_serving(nodes)
        for index in HONEST:
            wait_for_evidence(nodes, index, "BadShare")
            logged = evidence_logged(nodes, index)
            assert evidence_count(nodes, index) >= len(logged) > 0
            assert {offender for _, offender, _ in logged} == {str(BYZANTINE)}
            convicted = {(kind, about) for kind, _, about in logged}
            assert ("BadShare", "AuthVote") in convicted
            votes = ("PrepareVote", "CommitVote")
            assert {("Equivocation", vote) for vote in votes} & convicted
            if any(block["proposer"] == BYZANTINE for block in blocks):
                # Node 4 led a round to a block: every honest node got both its claims.
                assert ("Equivocation", "LeaderClaim") in convicted

        nodes.restart_byzantine("withhold,garbage")
        nodes.wait_ready([BYZANTINE], 3, STARTUP)
        for index in HONEST:
            wait_for_junk(nodes, index)
        record.decide(nodes)
        assert_chains_agree(nodes)
        assert_serving(nodes)
        for index in HONEST:
            assert {offender for _, offender, _ in evidence_logged(nodes, index)} == {"4"}
        assert nodes.log(BYZANTINE).count("TEST ONLY: Byzantine modes") == 2
        assert not any("TEST ONLY" in nodes.log(i) for i in HONEST)
        verify_ledgers(nodes)
