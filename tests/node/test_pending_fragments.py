"""The pending fragment area: bounds, candidates by digest and accounting across restarts."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from ledger.kv import KeyValueStore, MemoryStore
from ledger.leveldb import LevelDBStore
from node.localstore import PREFIXES, LocalStore
from node.pending_fragments import (
    CANDIDATE_PREFIX,
    DATA_PREFIX,
    CandidateConflict,
    PendingFragments,
    PendingFull,
    PendingLimits,
)

LIMITS = PendingLimits(max_fragments=20, max_bytes=40_000, ttl_ms=1_000, uploader_share=2)


def stored_bytes(store: KeyValueStore) -> tuple[int, int]:
    """(fragment bytes, all bytes of keys and values) the area holds in ``store``."""
    data = sum(len(value) for _, value in store.iterate(DATA_PREFIX))
    everything = sum(
        len(key) + len(value)
        for prefix in (CANDIDATE_PREFIX, DATA_PREFIX)
        for key, value in store.iterate(prefix)
    )
    return data, everything


def fill(area: PendingFragments, uploader: int, size: int) -> int:
    """Park fresh fragments from ``uploader`` until refused; returns how many were taken."""
    taken = 0
    while True:
        try:
            area.park(secrets.token_bytes(32), secrets.token_bytes(size), uploader, 0)
        except PendingFull:
            return taken
        taken += 1


def test_prefixes_are_distinct_single_bytes() -> None:
    assert len(set(PREFIXES)) == len(PREFIXES)
    assert all(len(p) == 1 for p in PREFIXES)


def test_each_uploader_and_the_whole_area_are_bounded(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "node")
    area = PendingFragments(store, LIMITS)
    # One uploader gets half the area by bytes: 20,000 bytes is six fragments of 3,000 bytes.
    assert fill(area, 1, 3_000) == 6
    assert fill(area, 2, 3_000) == 6
    # Both shares are used up, and the area as a whole (40,000 bytes) is full for a third.
    assert fill(area, 3, 3_000) == 1
    assert area.stored_bytes <= LIMITS.max_bytes
    data, everything = stored_bytes(store)
    assert data == area.stored_bytes <= LIMITS.max_bytes
    # Keys and bookkeeping cost under 100 bytes per fragment on top of the fragment bytes.
    assert everything <= LIMITS.max_bytes + 100 * LIMITS.max_fragments
    # The fragment count is bounded too: 13 so far, 7 more small ones fill the 20.
    assert fill(area, 3, 10) == 7
    assert area.count == LIMITS.max_fragments
    store.close()


def test_accounting_survives_a_restart(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "node")
    area = PendingFragments(store, LIMITS)
    fill(area, 1, 3_000)
    before = (area.count, area.stored_bytes, area.usage(1))
    store.close()
    store = LevelDBStore(tmp_path / "node")
    reopened = PendingFragments(store, LIMITS)
    assert (reopened.count, reopened.stored_bytes, reopened.usage(1)) == before
    assert reopened.stored_bytes == stored_bytes(store)[0]
    assert fill(reopened, 1, 3_000) == 0
    store.close()


def test_candidates_are_kept_by_digest_and_never_replaced() -> None:
    area = PendingFragments(MemoryStore(), LIMITS)
    record = secrets.token_bytes(32)
    good, bad = b"good fragment", b"bad fragment"
    area.park(record, good, 1, 10)
    area.park(record, bad, 2, 20)
    area.park(record, good, 3, 30)  # the same bytes again: shared, not stored twice
    with pytest.raises(CandidateConflict):
        area.park(record, b"other bytes", 2, 40)  # one candidate per uploader and record
    candidates = area.candidates(record)
    assert [area.read(c) for c in candidates] == [good, bad]
    assert candidates[0].uploaders == (1, 3)
    assert area.usage(3) == (1, len(good))
    assert area.stored_bytes == len(good) + len(bad)


def test_expired_candidates_are_listed_oldest_first() -> None:
    area = PendingFragments(MemoryStore(), LIMITS)
    first = area.park(secrets.token_bytes(32), b"a", 1, 100)
    second = area.park(secrets.token_bytes(32), b"b", 1, 500)
    area.park(secrets.token_bytes(32), b"c", 1, 2_000)
    assert area.expired(2_000) == [first, second]
    area.drop(area.expired(2_000))
    assert area.count == 1
    assert area.usage(1) == (1, 1)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        PendingLimits(max_bytes=0)


def test_fragments_of_an_earlier_version_are_dropped_on_open() -> None:
    store = MemoryStore()
    # Earlier versions parked any uploader's bytes under b"p" + record id, unbounded in time.
    store.write({b"p" + secrets.token_bytes(32): b"x" * 100 for _ in range(3)})
    local = LocalStore(store)
    assert list(store.keys(b"p")) == []
    assert local.pending.count == 0


def test_stray_bytes_without_bookkeeping_are_dropped_on_open() -> None:
    store = MemoryStore()
    area = PendingFragments(store, LIMITS)
    kept = area.park(secrets.token_bytes(32), b"kept", 1, 0)
    store.write({DATA_PREFIX + secrets.token_bytes(64): b"orphan" * 100})
    store.write({CANDIDATE_PREFIX + secrets.token_bytes(64): b"not bookkeeping"})
    reopened = PendingFragments(store, LIMITS)
    assert reopened.count == 1
    assert stored_bytes(store)[0] == kept.size == reopened.stored_bytes
