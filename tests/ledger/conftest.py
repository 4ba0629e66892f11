"""Shared fixtures of the ledger tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from ledger.block import Block, BlockHeader, ElectionQC, SharingResult, evidence_hash
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.merkle import merkle_root
from ledger.qc import CommitQC
from ledger.records import ZERO_HASH
from ledger.testing import ChainFixture
from ledger.transactions import MemberRole, Transaction


@pytest.fixture
def fx() -> ChainFixture:
    return ChainFixture(nodes=4, denial_limit=3)


@pytest.fixture
def ledger(fx: ChainFixture) -> Ledger:
    """A memory ledger with an owner ``alice``, requesters ``bob`` and ``carol`` (all three with
    published TPRE keys) and alice's record ``r1`` (access limit 2) granted to bob; head at
    height 2."""
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    fx.commit(
        ledger,
        [
            fx.register("alice", attributes=("role:patient",)),
            fx.register("bob", role=MemberRole.REQUESTER, attributes=("role:doctor",)),
            fx.register("carol", role=MemberRole.REQUESTER),
            *(fx.publish_key(name) for name in ("alice", "bob", "carol")),
        ],
    )
    fx.commit(ledger, [fx.put_record("alice", "r1", keywords="ecg", access_limit=2),
                       fx.grant("alice", "r1", "bob")])
    return ledger


def unchecked_block(
    fx: ChainFixture,
    ledger: Ledger,
    transactions: Sequence[Transaction] = (),
    results: Sequence[SharingResult] = (),
    *,
    last_commit: CommitQC | str | None = "auto",
    election_qc: ElectionQC | None = None,
    **header_changes: object,
) -> Block:
    """The next block with correct roots but no validation and a zero state root."""
    head = ledger.head()
    if last_commit == "auto":
        stored = ledger.block(head.height)
        last_commit = stored.commit_qc if stored is not None else None
    assert not isinstance(last_commit, str)
    header = BlockHeader(
        chain_id=fx.chain_id,
        height=head.height + 1,
        round=0,
        prev_hash=head.block_hash,
        tx_root=merkle_root([tx.tx_id() for tx in transactions]),
        results_root=merkle_root([r.hash() for r in results]),
        evidence_hash=evidence_hash(last_commit, election_qc),
        state_root=ZERO_HASH,
        time_ms=fx.time_at(head.height + 1),
        proposer=1,
    )
    header = dataclasses.replace(header, **header_changes)  # type: ignore[arg-type]
    return Block(header, tuple(transactions), tuple(results), last_commit, election_qc)


def snapshot(ledger: Ledger) -> list[tuple[bytes, bytes]]:
    return list(ledger.store.iterate())
