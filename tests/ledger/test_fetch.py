"""The signed data fetch (ledger.fetch): what the client signs is what a node checks."""

from __future__ import annotations

import pytest

from crypto.errors import VerificationError
from crypto.signing import SigningKey
from ledger.fetch import NONCE_SIZE, SignedFetch, fetch_signing_payload
from ledger.transactions import member_id_for

RECORD = b"\x01" * 32
NONCE = b"\x03" * NONCE_SIZE


def test_a_signed_fetch_verifies_only_for_its_chain_key_and_fields() -> None:
    key = SigningKey.generate()
    requester = member_id_for(key.verify_key)
    fetch = SignedFetch.sign(key, "chain", RECORD, requester, 1_700_000_000_000, NONCE)
    fetch.verify_signature(key.verify_key, "chain")
    payload = fetch_signing_payload("chain", RECORD, requester, 1_700_000_000_000, NONCE)
    assert fetch.signing_payload("chain") == payload
    with pytest.raises(VerificationError):
        fetch.verify_signature(key.verify_key, "another-chain")
    with pytest.raises(VerificationError):
        fetch.verify_signature(SigningKey.generate().verify_key, "chain")
    later = SignedFetch(RECORD, requester, fetch.timestamp_ms + 1, NONCE, fetch.signature)
    with pytest.raises(VerificationError):
        later.verify_signature(key.verify_key, "chain")


def test_the_http_body_carries_every_signed_field() -> None:
    key = SigningKey.generate()
    requester = member_id_for(key.verify_key)
    fetch = SignedFetch.sign(key, "chain", RECORD, requester, 42, NONCE)
    body = fetch.to_json()
    assert body == {
        "requester": requester.hex(),
        "timestamp_ms": 42,
        "nonce": NONCE.hex(),
        "signature": fetch.signature.hex(),
    }
    assert fetch.signature.hex() not in repr(fetch)


@pytest.mark.parametrize(
    ("record_id", "requester", "timestamp_ms", "nonce", "problem"),
    [
        (b"\x01" * 31, b"\x02" * 32, 1, NONCE, "ids are 32 bytes"),
        (RECORD, b"\x02" * 33, 1, NONCE, "ids are 32 bytes"),
        (RECORD, b"\x02" * 32, -1, NONCE, "64 bits"),
        (RECORD, b"\x02" * 32, 2**64, NONCE, "64 bits"),
        (RECORD, b"\x02" * 32, 1, b"\x03" * 15, "nonce is 16 bytes"),
    ],
)
def test_malformed_fields_are_refused_before_signing(
    record_id: bytes, requester: bytes, timestamp_ms: int, nonce: bytes, problem: str
) -> None:
    key = SigningKey.generate()
    with pytest.raises(ValueError, match=problem):
        SignedFetch.sign(key, "chain", record_id, requester, timestamp_ms, nonce)
    with pytest.raises(ValueError, match=problem):
        SignedFetch(record_id, requester, timestamp_ms, nonce, b"\x00" * 64)


def test_a_signature_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="signature"):
        SignedFetch(RECORD, b"\x02" * 32, 1, NONCE, b"\x00" * 63)
