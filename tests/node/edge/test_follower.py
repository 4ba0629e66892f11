"""The edge's header follower and the header protocol's server side, without a network."""

from __future__ import annotations

import dataclasses

import pytest
import trio

from crypto.signing import SigningKey
from ledger.header_chain import (
    CertifiedHeader,
    HeaderBatch,
    HeaderChain,
    HeaderRequest,
    InvalidHeader,
    verify_next,
)
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.qc import CommitSignature, commit_vote_payload
from ledger.testing import ChainFixture
from node.byzantine import TEST_BYZANTINE_ENV, forges_headers
from node.edge.follower import HeaderFollower
from node.edge.protocol import HEADERS_PROTOCOL, certified_headers, header_server


def committed_chain(blocks: int) -> tuple[ChainFixture, Ledger]:
    fixture = ChainFixture(4)
    ledger = Ledger.from_store(MemoryStore(), fixture.genesis)
    for _ in range(blocks):
        fixture.commit(ledger)
    return fixture, ledger


def forged(fixture: ChainFixture, item: CertifiedHeader) -> CertifiedHeader:
    """``item`` with a changed state root and a QC over it signed by outsiders' keys."""
    header = dataclasses.replace(item.header, state_root=b"\x66" * 32)
    qc = item.commit_qc
    payload = commit_vote_payload(fixture.chain_id, qc.height, qc.round, header.hash())
    signatures = tuple(
        CommitSignature(i, SigningKey.generate().sign(payload))
        for i in range(1, fixture.genesis.quorum + 1)
    )
    return CertifiedHeader(
        header, dataclasses.replace(qc, block_hash=header.hash(), signatures=signatures)
    )


def test_server_answers_headers_with_their_qcs() -> None:
    _, ledger = committed_chain(5)
    batch = certified_headers(ledger, HeaderRequest(2, 3))
    assert [h.height for h in batch.headers] == [2, 3, 4]
    stored = ledger.block(3)
    assert stored is not None
    assert batch.headers[1] == CertifiedHeader(stored.block.header, stored.commit_qc)
    assert certified_headers(ledger, HeaderRequest(6, 10)).headers == ()

    async def ask() -> bytes:
        return await header_server(ledger)(None, HeaderRequest(1, 100).to_bytes())  # type: ignore[arg-type]

    assert len(HeaderBatch.from_bytes(trio.run(ask)).headers) == 5


def test_forged_header_from_a_peer_is_refused_and_counted() -> None:
    fixture, ledger = committed_chain(4)
    chain = HeaderChain(MemoryStore(), fixture.genesis)

    async def request(peer: str, protocol: str, payload: bytes) -> bytes:
        assert protocol == HEADERS_PROTOCOL
        honest = certified_headers(ledger, HeaderRequest.from_bytes(payload))
        if peer == "liar":
            return HeaderBatch((forged(fixture, honest.headers[0]), *honest.headers[1:])).to_bytes()
        if peer == "garbler":
            return b"\x00not a batch"
        return honest.to_bytes()

    follower = HeaderFollower(chain, request, lambda: ["liar", "garbler", "honest"], batch=16)

    async def main() -> None:
        for _ in range(3):
            await follower.poll_once()

    trio.run(main)
    assert follower.refused == {"liar": 1, "garbler": 1}
    assert chain.height == 4
    assert follower.accepted == 4
    for height in range(1, 5):
        stored = ledger.block(height)
        assert stored is not None
        got = chain.get(height)
        assert got is not None
        assert got.block_hash() == stored.block.hash()


def test_only_the_liars_batch_is_lost() -> None:
    fixture, ledger = committed_chain(3)
    chain = HeaderChain(MemoryStore(), fixture.genesis)

    async def request(peer: str, protocol: str, payload: bytes) -> bytes:
        honest = certified_headers(ledger, HeaderRequest.from_bytes(payload))
        return HeaderBatch((*honest.headers[:1], forged(fixture, honest.headers[1]))).to_bytes()

    follower = HeaderFollower(chain, request, lambda: ["liar"])
    assert (
        follower.take(
            "liar", trio.run(request, "liar", HEADERS_PROTOCOL, HeaderRequest(1, 9).to_bytes())
        )
        == 1
    )
    assert chain.height == 1
    assert follower.refused == {"liar": 1}


def test_the_forge_headers_test_mode_serves_a_forgery_the_follower_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixture, ledger = committed_chain(3)
    chain = HeaderChain(MemoryStore(), fixture.genesis)
    follower = HeaderFollower(chain, lambda *_: None, lambda: [])  # type: ignore[arg-type]
    payload = HeaderRequest(1, 10).to_bytes()
    monkeypatch.setenv(TEST_BYZANTINE_ENV, "withhold, forge-headers")
    assert forges_headers()
    lying = trio.run(header_server(ledger, forge=forges_headers()), None, payload)
    forged_headers = HeaderBatch.from_bytes(lying).headers
    assert len(forged_headers) == 1
    real = ledger.block(1)
    assert real is not None
    # Well linked, but its QC names a header no validator signed.
    assert forged_headers[0].header.prev_hash == real.block.header.prev_hash
    assert forged_headers[0].commit_qc.signatures == real.commit_qc.signatures
    with pytest.raises(InvalidHeader, match="signature"):
        verify_next(fixture.genesis, chain.tip, forged_headers[0])
    assert follower.take("byzantine", lying) == 0
    assert follower.refused == {"byzantine": 1}
    assert chain.height == 0

    monkeypatch.setenv(TEST_BYZANTINE_ENV, "no-such-mode")
    assert not forges_headers()
    monkeypatch.delenv(TEST_BYZANTINE_ENV)
    honest = header_server(ledger, forge=forges_headers())
    assert follower.take("honest", trio.run(honest, None, payload)) == 3
    assert chain.height == 3
