"""Tampering with a stored ledger is caught by verify, which names the first bad location."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from ledger import schema
from ledger.block import Block, ElectionQC, evidence_hash
from ledger.errors import IntegrityError
from ledger.kv import KeyValueStore, MemoryStore
from ledger.ledger import Ledger
from ledger.merkle import merkle_root
from ledger.testing import ChainFixture
from ledger.transactions import MemberRole

HEIGHTS = 6


def build_chain(fx: ChainFixture, store: KeyValueStore) -> Ledger:
    """Six blocks: registrations, records, grants, attribute changes and sharing results."""
    ledger = Ledger.from_store(store, fx.genesis)
    fx.commit(ledger, [fx.register("alice"), fx.register("bob", role=MemberRole.REQUESTER),
                       fx.publish_key("alice"), fx.publish_key("bob")])
    fx.commit(ledger, [fx.put_record("alice", "r1", access_limit=5), fx.grant("alice", "r1", "bob"),
                       fx.change_attributes("bob", ("role:doctor",))])
    for height in range(3, HEIGHTS + 1):
        request = fx.request("bob", "r1", at_ms=fx.time_at(height))
        granted = height % 2 == 1
        fx.commit(ledger, [request, fx.change_attributes("alice", (f"v{height}",))],
                  [fx.result(request, granted=granted)])
    return ledger


@pytest.fixture
def chain(fx: ChainFixture) -> Ledger:
    return build_chain(fx, MemoryStore())


def flip(store: KeyValueStore, key: bytes, position: int) -> None:
    raw = bytearray(store.get(key) or b"")
    raw[position % len(raw)] ^= 0x01
    store.put(key, bytes(raw))


def expect_failure_at(ledger: Ledger, location: str) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        ledger.verify()
    assert caught.value.location == location, str(caught.value)
    clone = MemoryStore()
    clone.write(dict(ledger.store.iterate()))
    with pytest.raises(IntegrityError):
        Ledger.from_store(clone, ledger.genesis)  # a failing ledger is not opened
    return caught.value


def test_untouched_chain_verifies(chain: Ledger) -> None:
    report = chain.verify()
    assert (report.height, report.audit_records) == (HEIGHTS, HEIGHTS - 2)
    # 2 registrations + 1 change of bob + 4 changes of alice
    assert report.attribute_records == 7


def test_a_snapshot_verify_ignores_blocks_applied_meanwhile(
    fx: ChainFixture, chain: Ledger
) -> None:
    applied: list[int] = []

    def apply_one_more(height: int) -> None:
        if not applied:  # a block lands while the verify is reading the chain
            fx.commit(chain, [fx.change_attributes("bob", ("role:nurse",))])
            applied.append(chain.height)

    report = chain.verify(snapshot=True, progress=apply_one_more)
    assert applied == [HEIGHTS + 1]
    assert report.height == HEIGHTS
    assert chain.verify().height == HEIGHTS + 1


def _recommit_last(fx: ChainFixture, chain: Ledger, block: Block) -> None:
    """Store ``block`` in place of the head block with a valid commit QC over it: what a quorum
    of faulty nodes could commit, which only the shape checks of verify can catch."""
    chain.store.write(
        {
            schema.block(block.height): block.to_bytes(),
            schema.commit_qc(block.height): fx.commit_qc(block).to_bytes(),
        }
    )


def test_a_short_election_qc_is_reported(fx: ChainFixture, chain: Ledger) -> None:
    stored = chain.block(HEIGHTS)
    assert stored is not None
    assert stored.block.election_qc is not None
    block = stored.block
    short = ElectionQC(block.election_qc.claim_hash, block.election_qc.signatures[:1])
    header = dataclasses.replace(
        block.header, evidence_hash=evidence_hash(block.last_commit, short)
    )
    _recommit_last(fx, chain, dataclasses.replace(block, header=header, election_qc=short))
    error = expect_failure_at(chain, f"height {HEIGHTS}")
    assert "election QC has 1 votes" in str(error)


def test_a_denial_carrying_a_share_is_reported(fx: ChainFixture, chain: Ledger) -> None:
    stored = chain.block(HEIGHTS)
    assert stored is not None
    block = stored.block
    (result,) = block.results
    assert not result.granted
    vote = dataclasses.replace(result.votes[0], share=b"a share")
    bad = dataclasses.replace(result, votes=(vote, *result.votes[1:]))
    header = dataclasses.replace(block.header, results_root=merkle_root([bad.hash()]))
    _recommit_last(fx, chain, dataclasses.replace(block, header=header, results=(bad,)))
    error = expect_failure_at(chain, f"height {HEIGHTS}")
    assert "denial carries a share" in str(error)


def test_every_byte_of_a_block_is_protected(fx: ChainFixture) -> None:
    store = MemoryStore()
    ledger = build_chain(fx, store)
    raw = store.get(schema.block(4))
    assert raw is not None
    for position in range(len(raw)):
        flip(store, schema.block(4), position)
        error = expect_failure_at(ledger, "height 4")
        assert error.height == 4
        store.put(schema.block(4), raw)
    ledger.verify()


@pytest.mark.parametrize("seed", range(3))
def test_flipped_bytes_are_located(fx: ChainFixture, seed: int) -> None:
    rng = random.Random(seed)
    store = MemoryStore()
    ledger = build_chain(fx, store)
    bob, alice = fx.member_id("bob"), fx.member_id("alice")
    targets = [
        (schema.block(rng.randrange(1, HEIGHTS + 1)), None),
        (schema.commit_qc(rng.randrange(1, HEIGHTS + 1)), None),
        (schema.audit(rng.randrange(0, HEIGHTS - 2)), None),
        (schema.attribute_record(bob, 1), f"attributes {bob.hex()} #1"),
        (schema.attribute_record(alice, rng.randrange(0, 5)), None),
    ]
    for key, location in targets:
        original = store.get(key)
        assert original is not None
        for _ in range(8):
            flip(store, key, rng.randrange(len(original)))
            if location is None:
                if key[:1] == schema.AUDIT:
                    location = f"audit {schema.trailing_u64(key)}"
                elif key[:1] == schema.ATTRIBUTE_CHAIN:
                    seq = int.from_bytes(key[-4:], "big")
                    location = f"attributes {alice.hex()} #{seq}"
                else:
                    location = f"height {schema.trailing_u64(key)}"
            expect_failure_at(ledger, location)
            store.put(key, original)
    ledger.verify()


def test_deleted_keys_are_located(fx: ChainFixture) -> None:
    store = MemoryStore()
    ledger = build_chain(fx, store)
    block5 = ledger.block(5)
    assert block5 is not None
    bob, alice = fx.member_id("bob"), fx.member_id("alice")
    cases = [
        (schema.block(3), "height 3"),
        (schema.block(HEIGHTS), "height 6"),
        (schema.commit_qc(2), "height 2"),
        (schema.block_by_hash(block5.block.hash()), "height 5"),
        (schema.tx(block5.block.transactions[1].tx_id()), "height 5"),
        (schema.record(fx.record_id("r1")), "height 2"),
        (schema.audit(0), "audit 0"),
        (schema.audit(HEIGHTS - 3), f"audit {HEIGHTS - 3}"),
        (schema.attribute_record(bob, 0), f"attributes {bob.hex()} #0"),
        (schema.attribute_record(alice, 4), f"attributes {alice.hex()} #4"),
        (schema.member(bob), f"member {bob.hex()}"),
        (schema.HEAD, "head"),
        (schema.GENESIS, "genesis"),
    ]
    for key, location in cases:
        original = store.get(key)
        assert original is not None, location
        store.delete(key)
        expect_failure_at(ledger, location)
        store.put(key, original)
    ledger.verify()


def test_extra_records_beyond_the_tips_are_found(fx: ChainFixture) -> None:
    store = MemoryStore()
    ledger = build_chain(fx, store)
    audit = store.get(schema.audit(0))
    assert audit is not None
    store.put(schema.audit(HEIGHTS - 2), audit)
    expect_failure_at(ledger, f"audit {HEIGHTS - 2}")
    store.delete(schema.audit(HEIGHTS - 2))
    bob = fx.member_id("bob")
    link = store.get(schema.attribute_record(bob, 1))
    assert link is not None
    store.put(schema.attribute_record(bob, 9), link)
    expect_failure_at(ledger, "attributes")


def test_swapped_blocks_are_located(fx: ChainFixture) -> None:
    store = MemoryStore()
    ledger = build_chain(fx, store)
    three, four = store.get(schema.block(3)), store.get(schema.block(4))
    assert three is not None
    assert four is not None
    store.write({schema.block(3): four, schema.block(4): three})
    expect_failure_at(ledger, "height 3")


def test_leveldb_ledger_with_tampering_is_refused_on_open(fx: ChainFixture, tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    build_chain(fx, MemoryStore())  # warm the fixture's nonce counter identically
    fx2 = ChainFixture(nodes=4, denial_limit=3)
    from ledger.leveldb import LevelDBStore

    build_chain(fx2, LevelDBStore(path)).close()
    store = LevelDBStore(path)
    flip(store, schema.audit(1), 20)
    store.close()
    with pytest.raises(IntegrityError) as caught:
        Ledger.open(path, fx2.genesis)
    assert caught.value.location == "audit 1"
    # Opening without verification is possible on purpose (to inspect), and verify still fails.
    with Ledger.open(path, fx2.genesis, verify=False) as ledger, pytest.raises(IntegrityError):
        ledger.verify()


def test_block_range_never_pairs_a_block_with_another_blocks_qc(fx: ChainFixture) -> None:
    store = MemoryStore()
    ledger = build_chain(fx, store)
    store.delete(schema.commit_qc(3))
    found = ledger.blocks(1, HEIGHTS + 1, limit=None)
    assert [b.block.height for b in found] == [1, 2, 4, 5, 6]
    assert all(b.commit_qc.block_hash == b.block.hash() for b in found)
