"""Constants and field helpers shared by the canonical encodings of consensus messages.

Rounds that may be absent (``valid_round``) use ``-1`` (encoded as 0xFFFFFFFF); an absent block
hash (a nil vote) is ``None`` (encoded as a flag byte).
"""

from __future__ import annotations

from enum import IntEnum

from crypto import tags
from crypto.codec import Reader, Writer
from crypto.errors import DecodeError
from crypto.hashing import DIGEST_SIZE, digest
from crypto.signing import SIGNATURE_SIZE

VERSION = 1
#: Version 2 of these: items are named by the application's ids, and an authorization vote
#: carries one signature (over the injected access payload, share included).
AUTH_VOTE_VERSION = 2
#: Version 3 of a claim: it carries the claimant's block (claim and proposal in one message).
CLAIM_VERSION = 3
SIGN_TAG = b"iomtshare/consensus/message/v1"
NO_ROUND = -1
MAX_ROUND = 0xFFFFFFFE
MAX_INDEX = 0xFFFF

# Type tags of this package (0xC0-0xCF), taken from the project's one registry.
TAG_SUBMISSION = tags.CONSENSUS_SUBMISSION
TAG_AUTH_VOTE = tags.CONSENSUS_AUTH_VOTE
TAG_BUNDLE = tags.CONSENSUS_BUNDLE
TAG_CLAIM = tags.CONSENSUS_CLAIM
TAG_PREPARE_VOTE = tags.CONSENSUS_PREPARE_VOTE
TAG_COMMIT_VOTE = tags.CONSENSUS_COMMIT_VOTE
TAG_SYNC_REQUEST = tags.CONSENSUS_SYNC_REQUEST
TAG_COMMITTED_BLOCK = tags.CONSENSUS_COMMITTED_BLOCK
TAG_SYNC_REPLY = tags.CONSENSUS_SYNC_REPLY
TAG_EQUIVOCATION = tags.CONSENSUS_EQUIVOCATION
TAG_BAD_SHARE = tags.CONSENSUS_BAD_SHARE


class ItemKind(IntEnum):
    """What a client submission is: an access request (needs votes and shares) or a plain tx."""

    REQUEST = 1
    TX = 2


def signing_bytes(chain_id: str, unsigned: bytes) -> bytes:
    """What a node signs for every message except a commit vote for a block."""
    return digest(SIGN_TAG, chain_id.encode("utf-8"), unsigned)


class NodeSigned:
    """Shared by every node-signed message: its bytes are :meth:`unsigned_bytes` followed by
    the signature, and the signature covers the chain id and the unsigned bytes."""

    __slots__ = ()
    signature: bytes

    def unsigned_bytes(self) -> bytes:
        raise NotImplementedError

    def signing_bytes(self, chain_id: str) -> bytes:
        return signing_bytes(chain_id, self.unsigned_bytes())

    def to_bytes(self) -> bytes:
        return self.unsigned_bytes() + self.signature


def put_round(w: Writer, value: int) -> None:
    if not NO_ROUND <= value <= MAX_ROUND:
        raise ValueError(f"round {value} out of range")
    w.u32(0xFFFFFFFF if value == NO_ROUND else value)


def get_round(r: Reader, *, absent_ok: bool = False) -> int:
    """A round; the absent round (``NO_ROUND``) only where ``absent_ok`` (a valid or locked
    round). A vote, claim, proposal or committed block always names its round: the payloads
    signed over them hold it as an unsigned number, which -1 is not."""
    raw = r.u32()
    if raw != 0xFFFFFFFF:
        return raw
    if not absent_ok:
        raise DecodeError("the absent round where a round is required")
    return NO_ROUND


def put_hash(w: Writer, value: bytes) -> None:
    w.fixed(value, DIGEST_SIZE)


def put_opt_hash(w: Writer, value: bytes | None) -> None:
    w.boolean(value is not None)
    if value is not None:
        w.fixed(value, DIGEST_SIZE)


def get_opt_hash(r: Reader) -> bytes | None:
    return r.fixed(DIGEST_SIZE) if r.boolean() else None


def check_index(value: int, what: str) -> None:
    if not 1 <= value <= MAX_INDEX:
        raise DecodeError(f"{what} index {value} out of range")


def get_index(r: Reader, what: str) -> int:
    value = r.u16()
    check_index(value, what)
    return value


def get_signature(r: Reader) -> bytes:
    return r.fixed(SIGNATURE_SIZE)


TAG_SAFETY_STATE = tags.CONSENSUS_SAFETY_STATE
