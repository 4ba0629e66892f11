"""The access token (ledger.access_token): exact round trips, what the signature binds, the
HTTP body, and a stored vector.

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/access_token.json`` after a
deliberate format change (and bump the token's version when old bytes must stay readable).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import DecodeError, VerificationError
from crypto.signing import SigningKey
from ledger.access_token import NONCE_SIZE, AccessToken
from ledger.transactions import member_id_for

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "access_token.json"
RECORD = b"\x01" * 32
DECISION = b"\x04" * 32
NONCE = b"\x03" * NONCE_SIZE

hashes = st.binary(min_size=32, max_size=32)
tokens = st.builds(
    AccessToken,
    record_id=hashes,
    requester=hashes,
    decision_id=hashes,
    expires_at_ms=st.integers(0, 2**64 - 1),
    abe_binding=st.none() | hashes,
    timestamp_ms=st.integers(0, 2**64 - 1),
    nonce=st.binary(min_size=NONCE_SIZE, max_size=NONCE_SIZE),
    signature=st.binary(min_size=64, max_size=64),
)


@given(tokens)
def test_round_trip_is_exact(token: AccessToken) -> None:
    encoded = token.to_bytes()
    assert AccessToken.from_bytes(encoded) == token
    assert AccessToken.from_bytes_with_reader(encoded) == token
    with pytest.raises(DecodeError):
        AccessToken.from_bytes(encoded + b"\x00")
    with pytest.raises(DecodeError):
        AccessToken.from_bytes(encoded[:-1])


def _token(key: SigningKey, **changes: Any) -> AccessToken:
    fields: dict[str, Any] = {
        "record_id": RECORD,
        "requester": member_id_for(key.verify_key),
        "decision_id": DECISION,
        "expires_at_ms": 1_700_000_600_000,
        "abe_binding": None,
        "timestamp_ms": 1_700_000_000_000,
        "nonce": NONCE,
    }
    fields.update(changes)
    return AccessToken(**fields).signed(key, "chain")


def test_the_signature_binds_chain_key_and_every_field() -> None:
    key = SigningKey.generate()
    token = _token(key)
    token.verify_signature(key.verify_key, "chain")
    with pytest.raises(VerificationError):
        token.verify_signature(key.verify_key, "another-chain")
    with pytest.raises(VerificationError):
        token.verify_signature(SigningKey.generate().verify_key, "chain")
    changed: dict[str, Any] = {
        "record_id": b"\x09" * 32,
        "requester": b"\x09" * 32,
        "decision_id": b"\x09" * 32,
        "expires_at_ms": token.expires_at_ms + 1,
        "abe_binding": b"\x09" * 32,
        "timestamp_ms": token.timestamp_ms + 1,
        "nonce": b"\x09" * NONCE_SIZE,
    }
    for name, value in changed.items():
        altered = dataclasses.replace(token, **{name: value})
        with pytest.raises(VerificationError):
            altered.verify_signature(key.verify_key, "chain")


def test_the_http_body_carries_every_signed_field() -> None:
    key = SigningKey.generate()
    token = _token(key, abe_binding=b"\x05" * 32)
    assert token.to_json() == {
        "requester": token.requester.hex(),
        "decision_id": DECISION.hex(),
        "expires_at_ms": 1_700_000_600_000,
        "abe_binding": "05" * 32,
        "timestamp_ms": 1_700_000_000_000,
        "nonce": NONCE.hex(),
        "signature": token.signature.hex(),
    }
    assert _token(key).to_json()["abe_binding"] is None
    assert token.signature.hex() not in repr(token)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("record_id", b"\x01" * 31),
        ("decision_id", b"\x01" * 33),
        ("expires_at_ms", -1),
        ("timestamp_ms", 2**64),
        ("nonce", b"\x03" * 15),
        ("abe_binding", b""),
        ("signature", b"\x00" * 63),
    ],
)
def test_malformed_fields_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        dataclasses.replace(_token(SigningKey.generate()), **{name: value})


def test_stored_vector_replays() -> None:
    key = SigningKey(bytes(range(32)))
    token = _token(key, abe_binding=b"\x05" * 32)
    current = {
        "token": token.to_bytes().hex(),
        "signing_payload": token.signing_payload("chain").hex(),
        "without_binding": _token(key).to_bytes().hex(),
    }
    if os.environ.get("IOMTSHARE_REGEN_VECTORS"):
        VECTORS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == current
    AccessToken.from_bytes(bytes.fromhex(stored["token"])).verify_signature(
        key.verify_key, "chain"
    )
