"""Node wire encodings: exact round trips, strict parsing, stored vectors.

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/node_wire.json`` after a
deliberate format change (and bump the type's version when old bytes must stay readable).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import DecodeError
from ledger.access_token import AccessToken
from node.wire import MAX_BATCH_FRAMES, FragmentGet, FragmentPut, FrameBatch

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "node_wire.json"

hashes = st.binary(min_size=32, max_size=32)
signatures = st.binary(min_size=64, max_size=64)
frame_batches = st.builds(FrameBatch, st.lists(st.binary(max_size=60), max_size=5).map(tuple))
puts = st.builds(FragmentPut, hashes, st.binary(max_size=200))
gets = st.builds(
    FragmentGet,
    st.builds(
        AccessToken,
        hashes,
        hashes,
        hashes,
        st.integers(0, 2**64 - 1),
        st.none() | hashes,
        st.integers(0, 2**64 - 1),
        st.binary(min_size=16, max_size=16),
        signatures,
    ),
)
TYPES: dict[str, Any] = {
    "FrameBatch": FrameBatch,
    "FragmentPut": FragmentPut,
    "FragmentGet": FragmentGet,
}


@given(st.one_of(frame_batches, puts, gets))
def test_round_trip_is_exact(value: Any) -> None:
    encoded = value.to_bytes()
    assert type(value).from_bytes(encoded) == value
    with pytest.raises(DecodeError):
        type(value).from_bytes(encoded + b"\x00")
    with pytest.raises(DecodeError):
        type(value).from_bytes(encoded[:-1])


@pytest.mark.parametrize("cls", list(TYPES.values()))
def test_garbage_is_a_decode_error(cls: Any) -> None:
    for garbage in (b"", b"\x00", b"\xe1\x02", bytes(range(40))):
        with pytest.raises(DecodeError):
            cls.from_bytes(garbage)


def test_a_batch_above_the_frame_limit_is_refused() -> None:
    too_many = FrameBatch((b"",) * (MAX_BATCH_FRAMES + 1)).to_bytes()
    with pytest.raises(DecodeError, match="exceeds limit"):
        FrameBatch.from_bytes(too_many)


def samples() -> dict[str, Any]:
    return {
        "FrameBatch": FrameBatch((b"\xc1\x01vote", b"")),
        "FragmentPut": FragmentPut(bytes([5] * 32), b"fragment"),
        "FragmentGet": FragmentGet(
            AccessToken(
                bytes([5] * 32),
                bytes([6] * 32),
                bytes([8] * 32),
                1_800_000_600_000,
                None,
                1_800_000_000_000,
                bytes(16),
                bytes([7] * 64),
            )
        ),
    }


def test_stored_vectors_replay() -> None:
    current = {name: value.to_bytes().hex() for name, value in samples().items()}
    if os.environ.get("IOMTSHARE_REGEN_VECTORS"):
        VECTORS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == current
    for name, encoded in stored.items():
        assert TYPES[name].from_bytes(bytes.fromhex(encoded)) == samples()[name]
