"""Light-node header verification: each header must be the next link with a valid commit QC."""

from __future__ import annotations

import dataclasses

import pytest

from crypto.signing import SigningKey
from ledger.header_chain import (
    CertifiedHeader,
    HeaderBatch,
    HeaderChain,
    HeaderRequest,
    InvalidHeader,
    Tip,
    verify_next,
)
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.qc import CommitSignature, commit_vote_payload
from ledger.testing import ChainFixture


@pytest.fixture(scope="module")
def chain() -> tuple[ChainFixture, list[CertifiedHeader]]:
    fixture = ChainFixture(4)
    ledger = Ledger.from_store(MemoryStore(), fixture.genesis)
    certified = []
    for _ in range(4):
        block = fixture.commit(ledger)
        stored = ledger.block(block.height)
        assert stored is not None
        certified.append(CertifiedHeader(stored.block.header, stored.commit_qc))
    return fixture, certified


def test_good_chain_is_accepted_and_stored(
    chain: tuple[ChainFixture, list[CertifiedHeader]],
) -> None:
    fixture, certified = chain
    store = MemoryStore()
    headers = HeaderChain(store, fixture.genesis)
    for item in certified:
        headers.extend(item)
    assert headers.height == 4
    assert headers.get(3) == certified[2]
    # Reopened over the same store, the chain resumes at its tip.
    reopened = HeaderChain(store, fixture.genesis)
    assert reopened.tip == headers.tip
    assert reopened.tip.block_hash == certified[-1].block_hash()


def _resigned(
    fixture: ChainFixture, item: CertifiedHeader, keys: dict[int, SigningKey]
) -> CertifiedHeader:
    qc = item.commit_qc
    payload = commit_vote_payload(fixture.chain_id, qc.height, qc.round, qc.block_hash)
    signatures = tuple(CommitSignature(i, keys[i].sign(payload)) for i in sorted(keys))
    return dataclasses.replace(item, commit_qc=dataclasses.replace(qc, signatures=signatures))


def test_bad_qc_signature_is_refused(chain: tuple[ChainFixture, list[CertifiedHeader]]) -> None:
    fixture, certified = chain
    first = certified[0]
    keys = {i: fixture.node_keys[i - 1] for i in range(1, fixture.genesis.quorum + 1)}
    keys[1] = SigningKey.generate()  # node 1's slot signed by a key that is not node 1's
    with pytest.raises(InvalidHeader, match="bad signature of node 1"):
        verify_next(
            fixture.genesis, Tip.of_genesis(fixture.genesis), _resigned(fixture, first, keys)
        )


def test_too_few_signers_is_refused(chain: tuple[ChainFixture, list[CertifiedHeader]]) -> None:
    fixture, certified = chain
    keys = {i: fixture.node_keys[i - 1] for i in range(1, fixture.genesis.quorum)}
    with pytest.raises(InvalidHeader, match="quorum"):
        verify_next(
            fixture.genesis, Tip.of_genesis(fixture.genesis), _resigned(fixture, certified[0], keys)
        )


def test_non_validator_signer_is_refused(chain: tuple[ChainFixture, list[CertifiedHeader]]) -> None:
    fixture, certified = chain
    keys = {i: fixture.node_keys[i - 1] for i in range(1, fixture.genesis.quorum + 1)}
    keys[9] = SigningKey.generate()
    with pytest.raises(InvalidHeader, match="node 9 is not in genesis"):
        verify_next(
            fixture.genesis, Tip.of_genesis(fixture.genesis), _resigned(fixture, certified[0], keys)
        )


def test_wrong_parent_is_refused(chain: tuple[ChainFixture, list[CertifiedHeader]]) -> None:
    fixture, certified = chain
    genesis_tip = Tip.of_genesis(fixture.genesis)
    tip = verify_next(fixture.genesis, genesis_tip, certified[0])
    # Block 3 after block 1: a gap.
    with pytest.raises(InvalidHeader, match="expected 2"):
        verify_next(fixture.genesis, tip, certified[2])
    # A block 2 whose parent is not block 1 (a correctly signed QC does not save it).
    wrong = Tip(1, bytes(32), tip.time_ms)
    with pytest.raises(InvalidHeader, match="does not link"):
        verify_next(fixture.genesis, wrong, certified[1])


def test_qc_of_another_header_is_refused(chain: tuple[ChainFixture, list[CertifiedHeader]]) -> None:
    fixture, certified = chain
    forged = CertifiedHeader(
        dataclasses.replace(certified[0].header, state_root=bytes(32)), certified[0].commit_qc
    )
    with pytest.raises(InvalidHeader, match="different block hash"):
        verify_next(fixture.genesis, Tip.of_genesis(fixture.genesis), forged)
    store = MemoryStore()
    headers = HeaderChain(store, fixture.genesis)
    with pytest.raises(InvalidHeader):
        headers.extend(forged)
    assert headers.height == 0
    assert headers.get(1) is None


def test_wire_types_round_trip(chain: tuple[ChainFixture, list[CertifiedHeader]]) -> None:
    _, certified = chain
    batch = HeaderBatch(tuple(certified))
    assert HeaderBatch.from_bytes(batch.to_bytes()) == batch
    request = HeaderRequest(5, 64)
    assert HeaderRequest.from_bytes(request.to_bytes()) == request
