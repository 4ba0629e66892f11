"""Quorum lost and back, with real node processes: an accepted submission is never lost.

Four ``iomtshare node start`` processes (quorum 3). Two are SIGKILLed, so the network has no
quorum; node 1 accepts an ordinary transaction and an access request (202). Then node 2 and
node 1 are SIGKILLed too, so no running process holds the submissions in memory, and node 1
restarts first, alone: it must still know them from its disk. Once the other three are back,
the transaction commits and the request is granted. The client asks their fate at every step
(``GET /tx/{id}/fate``, ``GET /requests/{id}``); waits are bounded polls of the HTTP API.
"""

from __future__ import annotations

import time
from pathlib import Path

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
from tests.node.processes import PATIENCE, NodeProcesses, running_network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def fate(nodes: NodeProcesses, index: int, tx_id: str) -> str:
    answer = httpx.get(f"{nodes.url(index)}/tx/{tx_id}/fate", timeout=10)
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def request_status(nodes: NodeProcesses, index: int, request_id: str) -> str:
    answer = httpx.get(f"{nodes.url(index)}/requests/{request_id}", timeout=10)
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def same_head(nodes: NodeProcesses, indexes: list[int]) -> None:
    deadline = time.monotonic() + PATIENCE
    while True:
        heads = {(s["height"], s["head_hash"]) for s in (nodes.status(i) for i in indexes)}
        if len(heads) == 1:
            return
        assert time.monotonic() < deadline, f"heads differ: {heads}"
        time.sleep(0.2)


def test_submissions_accepted_without_quorum_are_decided_after_a_restart(
    tmp_path: Path,
) -> None:
    with running_network(tmp_path / "net", 4, round_timeout_ms=1500) as nodes:
        group = load_group()
        session = Session(NodeClient(nodes.url(1)), group)
        authority = nodes.network.authority_key()
        owner = MemberKeys.generate(group, MemberRole.OWNER)
        requester = MemberKeys.generate(group, MemberRole.REQUESTER)
        for keys in (owner, requester):
            register_member(session, authority, keys.public(), timeout=PATIENCE)
            publish_tpre_key(session, keys, timeout=PATIENCE)
        record = put_file(session, owner, b"ecg,1,2,3\n" * 200, name="ecg.csv", timeout=PATIENCE)
        grant_access(session, owner, record.record_id, requester.member_id, timeout=PATIENCE)

        nodes.kill(3)
        nodes.kill(4)
        newcomer = MemberKeys.generate(group, MemberRole.REQUESTER)
        tx_id = str(register_member(session, authority, newcomer.public(), wait=False)["tx_id"])
        request_id = request_access(session, requester, record.record_id)
        assert fate(nodes, 1, tx_id) == "pending"
        assert request_status(nodes, 1, request_id) == "pending"

        nodes.kill(2)
        nodes.kill(1)
        nodes.start(1)
        nodes.wait_ready([1], 0)
        assert fate(nodes, 1, tx_id) == "pending"
        assert request_status(nodes, 1, request_id) == "pending"

        for index in (2, 3, 4):
            nodes.start(index)
        decision = wait_decision(session, request_id, PATIENCE)
        assert decision.status == "granted"
        committed = session.wait_committed(tx_id, PATIENCE)
        assert committed["status"] == "committed"
        assert fate(nodes, 1, tx_id) == "committed"
        nodes.wait_ready([1, 2, 3, 4], 3)
        same_head(nodes, [1, 2, 3, 4])
        for index in (2, 3, 4):
            assert fate(nodes, index, tx_id) == "committed"
        assert httpx.get(nodes.url(2) + "/verify", timeout=30).json()["ok"] is True
