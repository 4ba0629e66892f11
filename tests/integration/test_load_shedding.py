"""A node past its backlog bounds refuses new client submissions as busy, with real processes.

Node 1 runs with ``max_backlog = 1`` in its config.toml (one undecided item is its bound), node
2 with ``shed_min_items = 1`` and ``shed_wait_ms = 1`` (one item waiting 1 ms is a queue not
drained). With nodes 3 and 4 killed (no quorum), a transaction node 1 accepted stays undecided
on both, so the next one is refused by each: 503, code ``busy``, a ``Retry-After``, counted on
``/metrics``. The refusal leaves no trace (its fate is not found), the nodes keep serving, and
once quorum is back and the first transaction commits, the very bytes that were refused are
accepted and commit.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from client import MemberKeys, NodeClient, NodeError
from client.session import Session
from crypto.groups import load_group
from crypto.signing import SigningKey
from ledger.transactions import MemberRole, RegisterMember, tx_id_of
from testnet.layout import create_network
from tests.node.processes import PATIENCE, NodeProcesses

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def registration(session: Session, authority: SigningKey, keys: MemberKeys) -> bytes:
    member = keys.public()
    tx = RegisterMember(
        member_id=member.member_id,
        verify_key=member.verify_key,
        box_key=member.box_key,
        role=int(member.role),
        attributes=(),
        registered_at_ms=int(time.time() * 1000),
    )
    return session.sign(tx, authority).to_bytes()


def refused_busy(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("iomtshare_submissions_refused_busy "))
    return float(line.split()[1])


def test_a_node_at_its_backlog_bound_refuses_as_busy_and_recovers(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 4, round_timeout_ms=1500)
    for node, settings in ((0, "max_backlog = 1\n"), (1, "shed_min_items = 1\nshed_wait_ms = 1\n")):
        config = network.directory / network.nodes[node].home / "config.toml"
        config.write_text(config.read_text() + settings)
    nodes = NodeProcesses(network)
    try:
        for index in range(1, 5):
            nodes.start(index)
        nodes.wait_ready([1, 2, 3, 4], 3)
        group = load_group()
        authority = network.authority_key()
        url = nodes.url(1)
        client = NodeClient(url, retry_budget=0.0)
        session = Session(client, group)
        first, second = (
            registration(session, authority, MemberKeys.generate(group, MemberRole.REQUESTER))
            for _ in range(2)
        )

        nodes.kill(3)
        nodes.kill(4)
        first_id = client.submit_tx(first)
        answer = httpx.post(f"{url}/tx", json={"tx": second.hex()}, timeout=10)
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["code"] == "busy"
        with pytest.raises(NodeError) as refused:
            client.submit_tx(second)
        assert (refused.value.status, refused.value.code) == (503, "busy")
        assert refused_busy(url) == 2
        # Nothing of the refused transaction was kept; the node still answers.
        second_id = tx_id_of(second).hex()
        assert httpx.get(f"{url}/tx/{second_id}/fate", timeout=10).status_code == 404
        assert "height" in nodes.status(1)
        # Node 2 has the first one from node 1; once it has waited there, node 2 refuses too.
        deadline = time.monotonic() + PATIENCE
        while httpx.get(f"{nodes.url(2)}/tx/{first_id}/fate", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "node 2 never heard of the first transaction"
            time.sleep(0.05)
        answer = httpx.post(f"{nodes.url(2)}/tx", json={"tx": second.hex()}, timeout=10)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "busy"
        assert "behind" in answer.json()["error"]["message"]
        assert refused_busy(nodes.url(2)) == 1

        nodes.start(3)
        nodes.start(4)
        session.wait_committed(first_id, PATIENCE)
        assert client.submit_tx(second) == second_id
        session.wait_committed(second_id, PATIENCE)
    finally:
        nodes.stop_all()
