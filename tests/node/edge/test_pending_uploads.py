"""The edge's on-disk upload state: its canonical encoding (round trip, exact decoding, stored
vector) and the store's bookkeeping (open vs finished, finished ones bounded, damaged entries
skipped, a reopen sees what was written).

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/edge_upload_vectors.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from ledger.kv import MemoryStore
from ledger.leveldb import LevelDBStore
from node.edge.pending_uploads import (
    UPLOAD_PREFIX,
    PendingUpload,
    PendingUploads,
    UploadStatus,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "edge_upload_vectors.json"

hashes = st.binary(min_size=32, max_size=32)
u64 = st.integers(0, 2**64 - 1)
uploads = st.builds(
    PendingUpload,
    device_id=hashes,
    record_id=hashes,
    tx_id=hashes,
    epoch=st.integers(0, 2**32 - 1),
    state=st.sampled_from([int(s) for s in UploadStatus]),
    height=st.none() | u64,
    fragments_stored=st.integers(0, 2**32 - 1),
    reason=st.text(max_size=40),
    submitted_at_ms=u64,
    updated_at_ms=u64,
    tx=st.binary(max_size=64),
    fragments=st.lists(st.binary(max_size=32), max_size=5).map(tuple),
)


def sample(record: int = 1, state: UploadStatus = UploadStatus.SUBMITTED,
           at: int = 1_700_000_000_000) -> PendingUpload:
    return PendingUpload(
        bytes(range(32)), bytes([record]) * 32, bytes(range(32, 64)), 2, int(state),
        None if state is UploadStatus.SUBMITTED else 41, 0, "", at, at, b"signed put",
        (b"f1", b"f2", b"f3", b"f4"),
    )


@settings(max_examples=60)
@given(value=uploads)
def test_round_trip(value: PendingUpload) -> None:
    encoded = value.to_bytes()
    assert encoded[:2] == bytes([0x92, 1])  # tag, version 1
    assert PendingUpload.from_bytes(encoded) == value
    assert PendingUpload.from_bytes(encoded).to_bytes() == encoded
    with pytest.raises(DecodeError):
        PendingUpload.from_bytes(encoded + b"\x00")
    with pytest.raises(DecodeError):
        PendingUpload.from_bytes(encoded[:-1])


def test_an_unknown_state_is_refused_typed() -> None:
    encoded = bytearray(sample().to_bytes())
    state_at = 2 + 32 * 3 + 4  # tag, version, three hashes, the epoch
    assert encoded[state_at] == UploadStatus.SUBMITTED
    encoded[state_at] = 9
    with pytest.raises(DecodeError, match="state"):
        PendingUpload.from_bytes(bytes(encoded))
    with pytest.raises(ValueError, match="not a known state"):
        dataclasses.replace(sample(), state=0)


def test_stored_vectors() -> None:
    samples = {
        "submitted": sample(),
        "stored": PendingUploads(MemoryStore()).move(
            sample(), UploadStatus.STORED, 1_700_000_001_000, height=41, fragments_stored=4
        ),
    }
    current = {name: value.to_bytes().hex() for name, value in samples.items()}
    if os.environ.get("IOMTSHARE_REGEN_VECTORS"):
        VECTORS.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == current
    for name, value in samples.items():
        assert PendingUpload.from_bytes(bytes.fromhex(stored[name])) == value
    # A finished upload keeps no transaction and no fragments.
    assert (samples["stored"].tx, samples["stored"].fragments) == (b"", ())


def test_open_and_finished_uploads_survive_a_reopen(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "headers")
    uploads = PendingUploads(store)
    first = uploads.save(sample(1))
    uploads.save(sample(2))
    uploads.move(first, UploadStatus.COMMITTED, 5, height=3)
    uploads.move(sample(3), UploadStatus.FAILED, 6, reason="dropped")
    store.write({UPLOAD_PREFIX + bytes([4]) * 32: b"damaged"})
    store.close()

    store = LevelDBStore(tmp_path / "headers")
    reopened = PendingUploads(store)
    assert reopened.open_ids() == [bytes([1]) * 32, bytes([2]) * 32]  # by last write
    committed = reopened.get(bytes([1]) * 32)
    assert committed is not None
    assert (committed.status, committed.height, committed.fragments) == (
        "committed", 3, sample().fragments
    )
    failed = reopened.get(bytes([3]) * 32)
    assert failed is not None
    assert (failed.status, failed.reason, failed.tx) == (
        "failed", "dropped", b""
    )
    assert reopened.get(bytes([4]) * 32) is None  # damaged: skipped, not fatal
    reopened.forget(bytes([2]) * 32)
    assert reopened.open_ids() == [bytes([1]) * 32]
    store.close()


def test_finished_uploads_are_bounded_open_ones_are_not() -> None:
    uploads = PendingUploads(MemoryStore(), kept_done=2)
    for record in range(1, 6):
        uploads.save(sample(record))
    for record in range(1, 5):
        uploads.move(sample(record), UploadStatus.STORED, record)
    assert [uploads.get(bytes([r]) * 32) is not None for r in range(1, 6)] == [
        False, False, True, True, True
    ]
    assert uploads.open_ids() == [bytes([5]) * 32]
