"""The signed data fetch: what a requester signs to be served a record's bulk data.

A fetch never goes on chain, but like a transaction it is a message a member signs and every
node checks: the client library builds and signs it, the node that answers
``POST /records/{record_id}/data`` checks it, and so does each peer asked for a fragment on the
requester's behalf. It lives beside the transactions so that both sides take the signed bytes
and the HTTP body from this one definition (docs/http-api.md, "Bulk data").

The signature covers :func:`fetch_signing_payload`: the chain id, record, requester, a
millisecond timestamp (checked against the genesis freshness window) and a 16-byte nonce (each
used once per requester).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crypto.hashing import DIGEST_SIZE, digest
from crypto.signing import SIGNATURE_SIZE, SigningKey, VerifyKey

NONCE_SIZE = 16
#: Domain of the signed bytes. It names the node because the payload was first defined there;
#: changing it would invalidate every client's signatures for no gain.
FETCH_SIGNATURE_TAG = b"iomtshare/node/fetch/v1"


def fetch_signing_payload(
    chain_id: str, record_id: bytes, requester: bytes, timestamp_ms: int, nonce: bytes
) -> bytes:
    """The bytes a requester signs to be served ``record_id``'s bulk data."""
    return digest(
        FETCH_SIGNATURE_TAG,
        chain_id.encode("utf-8"),
        record_id,
        requester,
        timestamp_ms.to_bytes(8, "big"),
        nonce,
    )


def _check_fields(record_id: bytes, requester: bytes, timestamp_ms: int, nonce: bytes) -> None:
    if len(record_id) != DIGEST_SIZE or len(requester) != DIGEST_SIZE:
        raise ValueError(f"record and requester ids are {DIGEST_SIZE} bytes")
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a fetch nonce is {NONCE_SIZE} bytes")
    if not 0 <= timestamp_ms < 2**64:
        raise ValueError("timestamp_ms must fit in 64 bits")


@dataclass(frozen=True, slots=True)
class SignedFetch:
    """A requester's signed fetch of one record's bulk data."""

    record_id: bytes
    requester: bytes
    timestamp_ms: int
    nonce: bytes
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_fields(self.record_id, self.requester, self.timestamp_ms, self.nonce)
        if len(self.signature) != SIGNATURE_SIZE:
            raise ValueError(f"a signature is {SIGNATURE_SIZE} bytes")

    @classmethod
    def sign(
        cls,
        key: SigningKey,
        chain_id: str,
        record_id: bytes,
        requester: bytes,
        timestamp_ms: int,
        nonce: bytes,
    ) -> SignedFetch:
        """A fetch of ``record_id`` by member ``requester``, signed with its current ``key``.

        Raises ``ValueError`` for ids, nonce or timestamp of the wrong size.
        """
        _check_fields(record_id, requester, timestamp_ms, nonce)
        payload = fetch_signing_payload(chain_id, record_id, requester, timestamp_ms, nonce)
        return cls(record_id, requester, timestamp_ms, nonce, key.sign(payload))

    def signing_payload(self, chain_id: str) -> bytes:
        return fetch_signing_payload(
            chain_id, self.record_id, self.requester, self.timestamp_ms, self.nonce
        )

    def verify_signature(self, key: VerifyKey, chain_id: str) -> None:
        """Raise ``crypto.errors.VerificationError`` unless ``key`` signed this fetch."""
        key.verify(self.signing_payload(chain_id), self.signature)

    def to_json(self) -> dict[str, Any]:
        """The JSON body of ``POST /records/{record_id}/data`` (the record id is in the path)."""
        return {
            "requester": self.requester.hex(),
            "timestamp_ms": self.timestamp_ms,
            "nonce": self.nonce.hex(),
            "signature": self.signature.hex(),
        }
