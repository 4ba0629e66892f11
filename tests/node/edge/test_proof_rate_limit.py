"""The proofs protocol's per-peer rate limit (the headers gate's token buckets, kind "proof")."""

from __future__ import annotations

import pytest
import trio
from prometheus_client import CollectorRegistry

from ledger.inclusion import ProofKind, ProofNotFound, ProofRequest, decode_answer
from node.edge.proofs import proof_gate, proof_server
from node.edge.protocol import HeaderRequestGate, HeaderRequestsLimited
from node.p2p import RequestRejected
from tests.node.edge.test_follower import committed_chain


def test_the_proof_server_refuses_a_peer_over_its_rate_and_serves_again_later() -> None:
    _, ledger = committed_chain(2)
    registry = CollectorRegistry()
    now = [0.0]
    gate = HeaderRequestGate(burst=1, rate=2.0, registry=registry, kind="proof")
    serve = proof_server(ledger, gate, clock=lambda: now[0])
    payload = ProofRequest(ProofKind.TRANSACTION, bytes(32)).to_bytes()

    async def main() -> None:
        first = decode_answer(await serve("edge", payload))  # type: ignore[arg-type]
        assert isinstance(first, ProofNotFound)
        with pytest.raises(HeaderRequestsLimited, match="too many proof requests") as refused:
            await serve("edge", payload)  # type: ignore[arg-type]
        assert isinstance(refused.value, RequestRejected)
        assert isinstance(decode_answer(await serve("node2", payload)), ProofNotFound)  # type: ignore[arg-type]
        now[0] = 0.5
        assert decode_answer(await serve("edge", payload)) == first  # type: ignore[arg-type]

    trio.run(main)
    assert registry.get_sample_value("iomtshare_proof_requests_refused_total") == 1.0
    assert gate.refused == {"edge": 1}


def test_the_default_proof_gate_allows_a_burst_of_an_edges_requests() -> None:
    gate = proof_gate()
    for _ in range(64):
        gate.check("edge", 5.0)
    with pytest.raises(HeaderRequestsLimited):
        gate.check("edge", 5.0)
