"""Items through an edge with inclusion proofs, on a real 4-node network with one edge.

A record is put and a request granted through the client library (talking to node 1); then the
edge is asked for the PutRecord, the Grant and the decision by id. It fetches each from a
consensus node over ``/iomtshare/proofs/1`` and answers only after checking the proof against
its own certified header, which must be the block every node committed at that height. The
network comes from the harness of ``tests/integration/test_edge.py`` (``testnet up --edges 1``).
"""

from __future__ import annotations

import time

import httpx
import pytest

from client import NodeClient
from client.owner import grant_access, put_file
from client.requester import request_access, wait_decision
from testnet.layout import Network
from tests.integration.test_edge import PATIENCE, edge_get, network, owner_and_requester

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

__all__ = ["network"]  # the module-scoped network fixture this module runs on


def wait_edge_height(network: Network, height: int) -> None:
    deadline = time.monotonic() + PATIENCE
    while edge_get(network, "/health").json()["height"] < height:
        assert time.monotonic() < deadline, f"the edge did not reach height {height}"
        time.sleep(0.2)


def committed_everywhere(network: Network, answer: httpx.Response) -> dict[str, object]:
    """The edge's answer, checked: 200, and its verified block is every node's block."""
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    verified = body["verified"]
    assert isinstance(verified, dict)
    for node in network.nodes:
        block = NodeClient(node.http_url).block(verified["height"])
        assert block["hash"] == verified["block_hash"]
    return body


def test_records_grants_and_decisions_through_the_edge(network: Network) -> None:
    session, owner, requester = owner_and_requester(network)
    record = put_file(session, owner, b"proved at the edge\n" * 300, name="p.csv", timeout=PATIENCE)
    grant = grant_access(session, owner, record.record_id, requester.member_id, timeout=PATIENCE)
    request_id = request_access(session, requester, record.record_id)
    decision = wait_decision(session, request_id, PATIENCE)
    assert decision.status == "granted"
    assert decision.height is not None
    wait_edge_height(network, decision.height)

    put = committed_everywhere(network, edge_get(network, f"/tx/{record.tx_id}"))
    assert put["type"] == "PutRecord"
    assert put["tx_id"] == record.tx_id
    tx = put["tx"]
    assert isinstance(tx, dict)
    assert tx["record_id"] == record.record_id.hex()
    assert put["verified"]["height"] == record.height  # type: ignore[index]

    granted = committed_everywhere(network, edge_get(network, f"/tx/{grant['tx_id']}"))
    assert granted["type"] == "Grant"

    answer = committed_everywhere(network, edge_get(network, f"/decisions/{request_id}"))
    assert answer["status"] == "granted"
    assert answer["request_id"] == request_id
    assert answer["record_id"] == record.record_id.hex()
    assert answer["requester"] == requester.member_id.hex()
    assert answer["reencrypted_ciphertext"] == decision.reencrypted.hex()
    assert answer["verified"]["height"] == decision.height  # type: ignore[index]

    unknown = edge_get(network, f"/decisions/{record.tx_id}")  # a PutRecord decides nothing
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert edge_get(network, "/status").json()["proofs_refused"] == 0
