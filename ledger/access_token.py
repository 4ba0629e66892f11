"""The access token: what a requester shows a node to be served a record's bulk data.

A committed, granted sharing decision (its id is the request id of the AccessRequest it
answered) counts as one access against the record's limit delta. To fetch the data the
requester presents a token naming that decision: the record, the requester, the decision id,
an expiry (for an owner-grant record no later than the grant's) and, for a policy record whose
dual record commits a key check (version 3, :mod:`crypto.abe.dual`), the ``abe_binding``: seed
003's ``H(record id, K_abe)``, which the requester can compute only after recovering K_abe with
its attribute key. Nodes compare its hash with the committed key check and so never learn
K_abe. For an owner-grant record, and a policy record without a key check (sealed before
version 3), ``abe_binding`` must be absent. Every node that hands out a fragment checks the
token itself (:mod:`node.fetch_auth`); a token never goes on chain.

One signature per fetch: the token is signed afresh for every fetch and carries that fetch's
timestamp (checked against the genesis freshness window) and 16-byte nonce (used once per
requester). So the token *is* the signed fetch body: a separate fetch signature next to a
token signature would be a second Ed25519 signature by the same key over the same intent.
Seen on the wire, a token cannot be replayed (its nonce is spent) nor stretched (the expiry,
decision and record are under the signature).

The signature covers :meth:`AccessToken.signing_payload`: the chain id and every field but
the signature, in their canonical encoding. The chain id is bound by the signature only, as
for transactions, not carried in the bytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from crypto import tags
from crypto.hashing import digest
from crypto.signing import SIGNATURE_SIZE, SigningKey, VerifyKey
from ledger.encoding import HASH, NONCE, SIGNATURE, U64, Encoded, optional

TAG_ACCESS_TOKEN = tags.LEDGER_ACCESS_TOKEN
NONCE_SIZE = 16
ACCESS_TOKEN_SIGNATURE_TAG = b"iomtshare/ledger/access-token/v1"
#: How long after its decision committed a token may still name it. Each granted decision is
#: one access of the record's limit; this bounds what one access opens to a day of fetches.
DECISION_FETCH_WINDOW_MS = 24 * 3_600_000
_EMPTY_SIGNATURE = bytes(SIGNATURE_SIZE)


@dataclass(frozen=True, slots=True)
class AccessToken(Encoded):
    """A requester's signed token for one fetch of ``record_id`` under decision ``decision_id``.

    Construction checks every field's type and size (``ValueError`` otherwise).
    """

    record_id: bytes
    requester: bytes
    decision_id: bytes
    expires_at_ms: int
    abe_binding: bytes | None
    timestamp_ms: int
    nonce: bytes
    signature: bytes = dataclasses.field(default=_EMPTY_SIGNATURE, repr=False)

    TAG = TAG_ACCESS_TOKEN
    FIELDS = (
        ("record_id", HASH),
        ("requester", HASH),
        ("decision_id", HASH),
        ("expires_at_ms", U64),
        ("abe_binding", optional(HASH)),
        ("timestamp_ms", U64),
        ("nonce", NONCE),
        ("signature", SIGNATURE),
    )

    def signing_payload(self, chain_id: str) -> bytes:
        """The bytes the requester signs: the chain id and the encoding without the signature
        (the last, fixed-width field)."""
        return digest(
            ACCESS_TOKEN_SIGNATURE_TAG, chain_id.encode("utf-8"), self.to_bytes()[:-SIGNATURE_SIZE]
        )

    def signed(self, key: SigningKey, chain_id: str) -> AccessToken:
        """A copy carrying ``key``'s signature over :meth:`signing_payload`."""
        return dataclasses.replace(self, signature=key.sign(self.signing_payload(chain_id)))

    def verify_signature(self, key: VerifyKey, chain_id: str) -> None:
        """Raise ``crypto.errors.VerificationError`` unless ``key`` signed this token."""
        key.verify(self.signing_payload(chain_id), self.signature)

    def to_json(self) -> dict[str, Any]:
        """The JSON body of ``POST /records/{record_id}/data`` (the record id is in the path)."""
        return {
            "requester": self.requester.hex(),
            "decision_id": self.decision_id.hex(),
            "expires_at_ms": self.expires_at_ms,
            "abe_binding": None if self.abe_binding is None else self.abe_binding.hex(),
            "timestamp_ms": self.timestamp_ms,
            "nonce": self.nonce.hex(),
            "signature": self.signature.hex(),
        }
