"""Verification in worker processes reports exactly what in-process verification reports."""

from __future__ import annotations

import os
import threading

import pytest

from ledger import integrity, schema, verify_pool
from ledger.block_check import BlockSummary
from ledger.errors import IntegrityError, LedgerError
from ledger.kv import MemoryStore
from ledger.testing import ChainFixture
from tests.ledger.test_tamper import HEIGHTS, build_chain, flip


def first_fault(store: MemoryStore, fx: ChainFixture, workers: int) -> str | None:
    try:
        integrity.verify_ledger(store, fx.genesis, workers=workers)
    except IntegrityError as exc:
        return exc.location
    return None


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_workers_find_the_same_first_fault(
    fx: ChainFixture, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    # Two blocks per chunk, so several chunks are in flight and results must be reordered.
    monkeypatch.setattr(verify_pool, "CHUNK_BLOCKS", 2)
    monkeypatch.setattr(verify_pool, "START_METHOD", start)
    store = MemoryStore()
    ledger = build_chain(fx, store)
    report = integrity.verify_ledger(store, fx.genesis, workers=2)
    assert report == ledger.verify()
    bob = fx.member_id("bob")
    # Faults at two heights at once: the lower one must win, whichever worker finishes first.
    flip(store, schema.block(HEIGHTS), 40)
    flip(store, schema.commit_qc(4), 30)
    assert first_fault(store, fx, 2) == first_fault(store, fx, 1) == "height 4"
    store.delete(schema.attribute_record(bob, 1))
    assert first_fault(store, fx, 2) == first_fault(store, fx, 1) == f"attributes {bob.hex()} #1"


def test_odd_sized_index_entries_are_found(
    fx: ChainFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_pool, "CHUNK_BLOCKS", 2)
    store = MemoryStore()
    ledger = build_chain(fx, store)
    stored = ledger.block(5)
    assert stored is not None
    tx_key = schema.tx(stored.block.transactions[0].tx_id())
    store.put(tx_key, b"\x00\x01\x02")  # an entry of the wrong size
    assert first_fault(store, fx, 2) == first_fault(store, fx, 1) == "height 5"
    assert integrity.read_index(store).odd_entries == {tx_key: b"\x00\x01\x02"}


def test_faults_in_one_block_are_reported_in_block_order(
    fx: ChainFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_pool, "CHUNK_BLOCKS", 2)
    store = MemoryStore()
    ledger = build_chain(fx, store)
    first = ledger.block(1)
    assert first is not None
    bob = first.block.transactions[1]  # registrations of alice and bob, positions 0 and 1
    alice_id = fx.member_id("alice")
    # Position 1's index entry is gone and position 0's attribute link is broken: the link
    # comes first in the block, so it is what is reported.
    store.delete(schema.tx(bob.tx_id()))
    flip(store, schema.attribute_record(alice_id, 0), 40)
    expected = f"attributes {alice_id.hex()} #0"
    assert first_fault(store, fx, 2) == first_fault(store, fx, 1) == expected
    # With the link repaired, the index entry is next.
    flip(store, schema.attribute_record(alice_id, 0), 40)
    assert first_fault(store, fx, 2) == first_fault(store, fx, 1) == "height 1"


def test_start_method_forks_only_without_other_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    alone = threading.active_count() == 1
    assert verify_pool.start_method() == ("fork" if alone else "spawn")
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert verify_pool.start_method() == "spawn"
    finally:
        release.set()
        other.join()
    monkeypatch.setattr(verify_pool, "START_METHOD", "spawn")
    assert verify_pool.start_method() == "spawn"


def _die(items: list[verify_pool.StoredItem]) -> list[BlockSummary]:
    os._exit(3)  # a worker killed mid-task


def test_a_dying_worker_is_reported(fx: ChainFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_pool, "START_METHOD", "fork")
    monkeypatch.setattr(verify_pool, "check_chunk", _die)
    store = MemoryStore()
    build_chain(fx, store)
    with pytest.raises(LedgerError, match="worker process died"):
        integrity.verify_ledger(store, fx.genesis, workers=2)
