"""The header protocol's per-peer rate limit: in memory, and over libp2p between two hosts."""

from __future__ import annotations

import logging

import pytest
import trio
from prometheus_client import CollectorRegistry

from ledger.header_chain import HeaderBatch, HeaderRequest
from node.edge.protocol import (
    HEADERS_PROTOCOL,
    HeaderRequestGate,
    HeaderRequestsLimited,
    header_server,
)
from node.p2p import RemoteError, RequestRejected
from node.p2p.envelope import Status
from node.ratelimit import TokenBuckets
from tests.node.edge.test_follower import committed_chain
from tests.node.p2p.p2p_testing import host_group

REFUSED = "iomtshare_header_requests_refused_total"


def test_token_buckets_allow_a_burst_then_the_rate_per_key() -> None:
    buckets: TokenBuckets[str] = TokenBuckets(burst=2, rate=4.0)
    assert [buckets.take("a", 10.0) for _ in range(3)] == [True, True, False]
    assert buckets.take("b", 10.0)  # each key has its own bucket
    assert not buckets.take("a", 10.2)
    assert buckets.take("a", 10.3)  # a quarter second buys one more
    assert [buckets.take("a", 100.0) for _ in range(3)] == [True, True, False]  # capped at burst
    with pytest.raises(ValueError, match="burst"):
        TokenBuckets(burst=0, rate=1.0)


def test_a_peer_asking_too_fast_is_refused_counted_and_logged_once_per_burst(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    gate = HeaderRequestGate(burst=2, rate=4.0, registry=registry)
    caplog.set_level(logging.WARNING, logger="iomtshare.node.edge.protocol")
    gate.check("edge", 10.0)
    gate.check("edge", 10.0)
    for _ in range(5):
        with pytest.raises(HeaderRequestsLimited, match="too many header requests"):
            gate.check("edge", 10.0)
    gate.check("other", 10.0)  # another peer is not held back by this one
    gate.check("edge", 10.3)  # a quarter second later, one more; the burst of refusals ended
    with pytest.raises(HeaderRequestsLimited):
        gate.check("edge", 10.3)
    assert gate.refused == {"edge": 6}
    assert registry.get_sample_value(REFUSED) == 6.0
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings
    assert "peer=edge reason=rate limit refused=1" in warnings[0]
    assert "refused=6" in warnings[1]


def test_the_server_refuses_over_the_rate_and_serves_again_later() -> None:
    _, ledger = committed_chain(3)
    now = [0.0]
    serve = header_server(ledger, HeaderRequestGate(burst=1, rate=2.0), clock=lambda: now[0])
    payload = HeaderRequest(1, 10).to_bytes()

    async def main() -> None:
        first = HeaderBatch.from_bytes(await serve(None, payload))  # type: ignore[arg-type]
        assert len(first.headers) == 3
        with pytest.raises(HeaderRequestsLimited) as refused:
            await serve(None, payload)  # type: ignore[arg-type]
        assert isinstance(refused.value, RequestRejected)  # answered REJECTED, not INTERNAL
        now[0] = 0.5
        again = HeaderBatch.from_bytes(await serve(None, payload))  # type: ignore[arg-type]
        assert again == first

    trio.run(main)
    assert ledger.height == 3


def test_over_libp2p_the_refusal_is_a_rejected_answer_and_the_host_keeps_serving() -> None:
    _, ledger = committed_chain(2)
    gate = HeaderRequestGate(burst=2, rate=1.0)
    now = [0.0]  # the server's clock stands still during the burst: no refill

    def setup(host: object) -> None:
        handler = header_server(ledger, gate, clock=lambda: now[0])
        host.add_protocol(HEADERS_PROTOCOL, handler)  # type: ignore[attr-defined]

    async def main() -> None:
        async with host_group(2, setup=setup) as (server, edge):
            payload = HeaderRequest(1, 10).to_bytes()
            target = server.host.peer_id
            # A burst of simultaneous requests: two served, the rest refused, none hangs.
            answers: list[bytes | RemoteError] = []

            async def ask() -> None:
                try:
                    answers.append(await edge.host.request(target, HEADERS_PROTOCOL, payload, 5.0))
                except RemoteError as exc:
                    answers.append(exc)

            with trio.fail_after(30):
                async with trio.open_nursery() as nursery:
                    for _ in range(6):
                        nursery.start_soon(ask)
            served = [a for a in answers if isinstance(a, bytes)]
            refused = [a for a in answers if isinstance(a, RemoteError)]
            assert len(served) == 2
            assert len(refused) == 4
            assert {e.code for e in refused} == {Status.REJECTED}
            assert all("too many header requests" in e.detail for e in refused)
            assert all(len(HeaderBatch.from_bytes(b).headers) == 2 for b in served)
            assert gate.refused == {str(edge.host.peer_id): 4}
            now[0] = 1.0  # a second later the peer has one request again
            with trio.fail_after(30):
                reply = await edge.host.request(target, HEADERS_PROTOCOL, payload, 5.0)
            assert len(HeaderBatch.from_bytes(reply).headers) == 2

    trio.run(main)
