"""Fetching a record's bulk data through an edge, on a real 4-node network with one edge.

An owner puts a record and grants bob; bob fetches it through the edge (the edge checks the
token, proves the decision and the PutRecord, gathers t fragments from the nodes) and gets the
bytes a node gives him; `client fetch --via-edge` prints what `client fetch` does and writes the
same file. A token of another member naming bob's decision is refused by the edge.
After a restart of the whole network a replayed fetch is still refused by the edge, from its
own nonce store. After the owner revokes, bob's fetch is refused through the edge and directly
by each node. The network comes from the harness of ``tests/integration/test_edge.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from client import MemberKeys, NodeClient
from client.authority import register_member
from client.errors import AccessDenied
from client.keystore import save_member
from client.member import publish_tpre_key
from client.owner import grant_access, put_file, revoke_access
from client.requester import (
    access_token,
    fetch_and_decrypt,
    fetch_ciphertext,
    request_access,
    wait_decision,
)
from client.session import Session
from crypto.groups import load_group
from ledger.transactions import MemberRole
from testnet.layout import Network
from tests.integration.test_edge import PATIENCE, cli, network
from tests.integration.test_edge_proofs import wait_edge_height

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

__all__ = ["network"]  # the module-scoped network fixture this module runs on

DATA = b"heart rate 72, spo2 98\n" * 400


def edge_post(network: Network, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(network.edges[0].http_url + path, json=body, timeout=PATIENCE)


def cli_fetch(network: Network, bob_dir: Path, record_id: bytes, request_id: str, *via: str) -> Any:
    output = bob_dir / f"out{len(via)}.csv"
    ran = cli(
        "client", "fetch", record_id.hex(), request_id, "--member", str(bob_dir),
        "--node", network.node(2).http_url, "-o", str(output), "--json", *via,
    )
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert output.read_bytes() == DATA
    answer = json.loads(ran.stdout)
    del answer["output"]
    return answer


def test_fetching_through_the_edge(network: Network, tmp_path: Path) -> None:
    group = load_group()
    session = Session(NodeClient(network.node(1).http_url, timeout=PATIENCE), group)
    authority = network.authority_key()
    owner = MemberKeys.generate(group, MemberRole.OWNER)
    bob = MemberKeys.generate(group, MemberRole.REQUESTER)
    carol = MemberKeys.generate(group, MemberRole.REQUESTER)
    for keys in (owner, bob, carol):
        register_member(session, authority, keys.public(), timeout=PATIENCE)
        publish_tpre_key(session, keys, timeout=PATIENCE)
    record = put_file(session, owner, DATA, name="hr.csv", timeout=PATIENCE)
    record_id = record.record_id
    grant_access(session, owner, record_id, bob.member_id, timeout=PATIENCE)
    decision = wait_decision(session, request_access(session, bob, record_id), PATIENCE)
    assert decision.status == "granted"
    assert decision.height is not None
    wait_edge_height(network, decision.height)
    edge = NodeClient(network.edges[0].http_url, timeout=PATIENCE)

    # Bob through the edge: the file, and the very ciphertext a node rebuilds for him.
    data, _ = fetch_and_decrypt(session, bob, record_id, decision, via_edge=edge)
    assert data == DATA
    assert fetch_ciphertext(session, bob, record_id, decision, via_edge=edge) == (
        fetch_ciphertext(session, bob, record_id, decision)
    )

    # The CLI: the same output with and without --via-edge.
    bob_dir = tmp_path / "bob"
    save_member(bob_dir, bob)
    edge_url = network.edges[0].http_url
    assert cli_fetch(network, bob_dir, record_id, decision.request_id, "--via-edge", edge_url) == (
        cli_fetch(network, bob_dir, record_id, decision.request_id)
    )

    path = f"/records/{record_id.hex()}/data"
    extra = {"record_tx_id": record.tx_id}

    # Carol signs a token naming bob's decision: the edge refuses it without asking a node.
    theirs = access_token(session, carol, record_id, decision)
    refused = edge_post(
        network,
        path,
        {**theirs.to_json(), **extra, "verify_key": carol.signing_key.verify_key.raw.hex()},
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "token_not_yours")

    # A fetch the edge served, replayed after every process restarted.
    token = access_token(session, bob, record_id, decision)
    body = {**token.to_json(), **extra, "verify_key": bob.signing_key.verify_key.raw.hex()}
    served = edge_post(network, path, body)
    assert served.status_code == 200, served.text
    down = cli("testnet", "down", "--dir", str(network.directory))
    assert down.returncode == 0, down.stderr
    start = cli("testnet", "start", "--dir", str(network.directory), "--json")
    assert start.returncode == 0, start.stderr + start.stdout
    replayed = edge_post(network, path, body)
    assert replayed.status_code == 409, replayed.text
    assert replayed.json()["error"]["code"] == "replayed"
    assert "at this edge" in replayed.json()["error"]["message"]  # the edge's own refusal

    # The owner revokes: refused through the edge and by every node directly.
    revoked = revoke_access(session, owner, record_id, bob.member_id, timeout=PATIENCE)
    for node in network.nodes:
        NodeClient(node.http_url, timeout=PATIENCE).tx(revoked["tx_id"], wait=PATIENCE)
    with pytest.raises(AccessDenied, match=r"the edge refused the data: .*revoked"):
        fetch_ciphertext(session, bob, record_id, decision, via_edge=edge)
    for node in network.nodes:
        direct = Session(NodeClient(node.http_url, timeout=PATIENCE), group)
        with pytest.raises(AccessDenied, match="revoked"):
            fetch_ciphertext(direct, bob, record_id, decision)
