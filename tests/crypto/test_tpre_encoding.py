"""Canonical bytes of every threshold-PRE type: round trips, stored vectors, malformed input.

Set IOMTSHARE_WRITE_VECTORS=1 to rewrite tests/vectors/tpre_objects.json after a deliberate
format change (and bump the version tag).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from crypto.groups import Group
from crypto.tpre import (
    Grant,
    OwnerCiphertext,
    ReEncryptedCiphertext,
    ReEncryptionShare,
    ReKeyShare,
    UserPublicKey,
    UserSecretKey,
)

VECTOR_FILE = Path(__file__).parent.parent / "vectors" / "tpre_objects.json"


def fixed_objects(g: Group) -> dict[str, Any]:
    """Objects built from fixed scalars, so their encodings never change."""
    pk7 = UserSecretKey(g, 7).public_key()
    pk9 = UserSecretKey(g, 9).public_key()
    return {
        "public_key": pk7,
        "secret_key": UserSecretKey(g, 11),
        "owner_ciphertext": OwnerCiphertext(g.g1 * 17, g.z**19, b"sealed body"),
        "grant": Grant(2, pk7, pk9, (g.z**23,), (b"box-1", b"box-2", b"box-3")),
        "rekey_share": ReKeyShare(3, g.g2 * 29),
        "reencryption_share": ReEncryptionShare(2, g.z**31, 37 << 100, g.g2 * 43),
        "reencrypted_ciphertext": ReEncryptedCiphertext(g.g1 * 47, g.z**53, g.z**59, b"body"),
    }


PARSERS: dict[str, Callable[[Group, bytes], Any]] = {
    "public_key": UserPublicKey.from_bytes,
    "secret_key": UserSecretKey.from_bytes,
    "owner_ciphertext": OwnerCiphertext.from_bytes,
    "grant": Grant.from_bytes,
    "rekey_share": ReKeyShare.from_bytes,
    "reencryption_share": ReEncryptionShare.from_bytes,
    "reencrypted_ciphertext": ReEncryptedCiphertext.from_bytes,
}


def test_stored_vectors(group: Group) -> None:
    objects = fixed_objects(group)
    encoded = {name: obj.to_bytes().hex() for name, obj in objects.items()}
    if os.environ.get("IOMTSHARE_WRITE_VECTORS") == "1" and group.name == "mcl":
        VECTOR_FILE.write_text(json.dumps(encoded, indent=1, sort_keys=True) + "\n")
    stored = json.loads(VECTOR_FILE.read_text())
    assert encoded == stored
    for name, hex_bytes in stored.items():
        parsed = PARSERS[name](group, bytes.fromhex(hex_bytes))
        assert parsed.to_bytes().hex() == hex_bytes


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_truncation_and_trailing_bytes_rejected(mcl: Group, name: str) -> None:
    data = fixed_objects(mcl)[name].to_bytes()
    for cut in (0, 1, 2, len(data) // 2, len(data) - 1):
        with pytest.raises(DecodeError):
            PARSERS[name](mcl, data[:cut])
    with pytest.raises(DecodeError):
        PARSERS[name](mcl, data + b"\x00")
    with pytest.raises(DecodeError):
        PARSERS[name](mcl, bytes([data[0] ^ 0xFF]) + data[1:])
    with pytest.raises(DecodeError):
        PARSERS[name](mcl, data[:1] + bytes([data[1] + 1]) + data[2:])


@settings(max_examples=150)
@given(name=st.sampled_from(sorted(PARSERS)), data=st.data())
def test_mutated_encodings_only_raise_decode_error(
    mcl: Group, name: str, data: st.DataObject
) -> None:
    valid = bytearray(fixed_objects(mcl)[name].to_bytes())
    position = data.draw(st.integers(min_value=0, max_value=len(valid) - 1))
    valid[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    try:
        parsed = PARSERS[name](mcl, bytes(valid))
    except DecodeError:
        return
    # A flip that still parses must give a different object that re-encodes to the input.
    assert parsed.to_bytes() == bytes(valid)


@settings(max_examples=100)
@given(name=st.sampled_from(sorted(PARSERS)), blob=st.binary(max_size=2000))
def test_random_bytes_only_raise_decode_error(mcl: Group, name: str, blob: bytes) -> None:
    with pytest.raises(DecodeError):
        PARSERS[name](mcl, blob)


@settings(max_examples=10)
@given(k=st.integers(min_value=1, max_value=2**200), body=st.binary(max_size=64))
def test_round_trip(mcl: Group, k: int, body: bytes) -> None:
    g = mcl
    objects = [
        UserSecretKey(g, k).public_key(),
        OwnerCiphertext(g.g1 * k, g.z**k, body),
        ReKeyShare(k % 1000 + 1, g.g2 * k),
        ReEncryptionShare(k % 7 + 1, g.z**k, k % (1 << 128), g.g2 * k),
        ReEncryptedCiphertext(g.g1 * k, g.z**k, g.z ** (k + 3), body),
    ]
    for obj in objects:
        again = type(obj).from_bytes(g, obj.to_bytes())  # type: ignore[attr-defined]
        assert again == obj


def test_secret_key_repr_hides_secret(mcl: Group) -> None:
    key = UserSecretKey(mcl, 123456789)
    assert "123456789" not in repr(key)
    assert "<hidden>" in repr(key)
    share = ReKeyShare(1, mcl.g2 * 5)
    assert bytes(share.rk).hex()[:16] not in repr(share)


def test_share_of_the_earlier_format_and_oversized_challenge_refused(mcl: Group) -> None:
    data = fixed_objects(mcl)["reencryption_share"].to_bytes()
    assert data[1] == 2  # version 2: the proof is (c, z)
    with pytest.raises(DecodeError):
        ReEncryptionShare.from_bytes(mcl, data[:1] + b"\x01" + data[2:])
    with pytest.raises(ValueError, match="128 bits"):
        ReEncryptionShare(1, mcl.z, 1 << 128, mcl.g2)
