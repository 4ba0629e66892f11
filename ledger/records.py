"""What the ledger stores besides blocks: state entries and the two hash-linked sub-chains.

* :class:`Member`, :class:`RecordEntry`, :class:`GrantEntry`, :class:`Revocation`,
  :class:`Counter`, :class:`BlacklistEntry`: the current state, rewritten as blocks apply.
* :class:`AttributeRecord`: one link of a member's attribute-change chain; ``prev_hash`` is the
  hash of the member's previous link (zero for the first, written at registration).
* :class:`AuditRecord`: one link of the global sharing-audit chain; ``prev_hash`` is the hash of
  the previous audit record (zero for the first). A decision's ``result_hash`` pins the sharing
  result in the block at ``height``; an unblacklisting (:class:`AuditKind`) names its
  Unblacklist transaction instead.
* :class:`Head` (chain tip) and :class:`Location` (where a block, transaction or nonce lives).

Versions: GrantEntry and Revocation are version 2 (they gained the pair's ``version``), and
AuditRecord version 2 (it gained ``kind``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from crypto.hashing import digest
from ledger.encoding import (
    BLOB,
    BOOL,
    HASH,
    KEY,
    TAG_ATTRIBUTE_RECORD,
    TAG_AUDIT_RECORD,
    TAG_BLACKLIST,
    TAG_COUNTER,
    TAG_GRANT_ENTRY,
    TAG_HEAD,
    TAG_MEMBER,
    TAG_RECORD_ENTRY,
    TAG_REVOCATION,
    TAG_TX_LOCATION,
    TEXT,
    TEXTS,
    U8,
    U16,
    U32,
    U64,
    Encoded,
)

ZERO_HASH = bytes(32)
ATTRIBUTE_RECORD_TAG = b"iomtshare/ledger/attribute-record/v1"
AUDIT_RECORD_TAG = b"iomtshare/ledger/audit-record/v1"


@dataclass(frozen=True, slots=True)
class Member(Encoded):
    """A registered member: current keys, role, latest attributes and attribute-chain head."""

    member_id: bytes
    verify_key: bytes
    box_key: bytes
    role: int
    attributes: tuple[str, ...]
    public_key_material: bytes
    key_version: int
    registered_height: int
    attribute_seq: int
    attribute_head: bytes

    TAG = TAG_MEMBER
    FIELDS = (
        ("member_id", HASH),
        ("verify_key", KEY),
        ("box_key", KEY),
        ("role", U8),
        ("attributes", TEXTS),
        ("public_key_material", BLOB),
        ("key_version", U32),
        ("registered_height", U64),
        ("attribute_seq", U32),
        ("attribute_head", HASH),
    )


@dataclass(frozen=True, slots=True)
class RecordEntry(Encoded):
    """A published record (the PutRecord fields without the signature) and where it landed."""

    record_id: bytes
    owner: bytes
    keywords_hash: bytes
    policy: str
    access_limit: int
    metadata_ciphertext: bytes
    storage_commitments: bytes
    abe_ciphertext: bytes
    domain_epoch: int
    domain_ciphertext: bytes
    created_at_ms: int
    height: int
    tx_id: bytes

    TAG = TAG_RECORD_ENTRY
    VERSION = 2  # PutRecord's version 2 fields (domain_epoch, domain_ciphertext)
    FIELDS = (
        ("record_id", HASH),
        ("owner", HASH),
        ("keywords_hash", HASH),
        ("policy", TEXT),
        ("access_limit", U32),
        ("metadata_ciphertext", BLOB),
        ("storage_commitments", BLOB),
        ("abe_ciphertext", BLOB),
        ("domain_epoch", U32),
        ("domain_ciphertext", BLOB),
        ("created_at_ms", U64),
        ("height", U64),
        ("tx_id", HASH),
    )


@dataclass(frozen=True, slots=True)
class GrantEntry(Encoded):
    """An active grant of ``record_id`` to ``grantee``; ``version`` is its Grant's."""

    record_id: bytes
    grantee: bytes
    version: int
    threshold: int
    expires_at_ms: int
    sealed_rekey_shares: bytes
    commitments: bytes
    height: int
    tx_id: bytes

    TAG = TAG_GRANT_ENTRY
    VERSION = 2
    FIELDS = (
        ("record_id", HASH),
        ("grantee", HASH),
        ("version", U32),
        ("threshold", U16),
        ("expires_at_ms", U64),
        ("sealed_rekey_shares", BLOB),
        ("commitments", BLOB),
        ("height", U64),
        ("tx_id", HASH),
    )


@dataclass(frozen=True, slots=True)
class Revocation(Encoded):
    """The latest revocation of ``grantee`` on ``record_id``; ``version`` is its Revoke's."""

    record_id: bytes
    grantee: bytes
    version: int
    height: int
    tx_id: bytes

    TAG = TAG_REVOCATION
    VERSION = 2
    FIELDS = (
        ("record_id", HASH),
        ("grantee", HASH),
        ("version", U32),
        ("height", U64),
        ("tx_id", HASH),
    )


@dataclass(frozen=True, slots=True)
class Counter(Encoded):
    """A count kept in state: accesses of one record by one requester, or denials."""

    value: int

    TAG = TAG_COUNTER
    FIELDS = (("value", U32),)


@dataclass(frozen=True, slots=True)
class BlacklistEntry(Encoded):
    """A requester barred after ``denials`` denied requests, from block ``height`` on."""

    member_id: bytes
    height: int
    denials: int

    TAG = TAG_BLACKLIST
    FIELDS = (("member_id", HASH), ("height", U64), ("denials", U32))


@dataclass(frozen=True, slots=True)
class AttributeRecord(Encoded):
    """Link ``seq`` of a member's attribute-change chain (seq 0 is the registration)."""

    member_id: bytes
    seq: int
    attributes: tuple[str, ...]
    reason: str
    height: int
    tx_id: bytes
    prev_hash: bytes

    TAG = TAG_ATTRIBUTE_RECORD
    FIELDS = (
        ("member_id", HASH),
        ("seq", U32),
        ("attributes", TEXTS),
        ("reason", TEXT),
        ("height", U64),
        ("tx_id", HASH),
        ("prev_hash", HASH),
    )

    def hash(self) -> bytes:
        return digest(ATTRIBUTE_RECORD_TAG, self.to_bytes())


class AuditKind(IntEnum):
    """What an audit-chain link records; stored as one byte."""

    #: The decision on an access request (``request_id``), pinned by ``result_hash``.
    DECISION = 1
    #: The authority lifted ``requester``'s blacklisting: ``request_id`` is the Unblacklist
    #: transaction's id, ``record_id`` and ``result_hash`` are zero, ``granted`` is false and
    #: both vote counts are zero (everything in it follows from the transaction, so
    #: ``iomtshare ledger verify`` rebuilds it from the block alone).
    UNBLACKLIST = 2


@dataclass(frozen=True, slots=True)
class AuditRecord(Encoded):
    """Link ``seq`` of the sharing-audit chain: one access decision, or one unblacklisting
    (see :class:`AuditKind`)."""

    seq: int
    height: int
    kind: int
    request_id: bytes
    record_id: bytes
    requester: bytes
    granted: bool
    approvals: int
    denials: int
    result_hash: bytes
    prev_hash: bytes

    TAG = TAG_AUDIT_RECORD
    VERSION = 2
    FIELDS = (
        ("seq", U64),
        ("height", U64),
        ("kind", U8),
        ("request_id", HASH),
        ("record_id", HASH),
        ("requester", HASH),
        ("granted", BOOL),
        ("approvals", U16),
        ("denials", U16),
        ("result_hash", HASH),
        ("prev_hash", HASH),
    )

    def hash(self) -> bytes:
        return digest(AUDIT_RECORD_TAG, self.to_bytes())


@dataclass(frozen=True, slots=True)
class Head(Encoded):
    """The chain tip: last applied block, its state root, and the audit chain's length and tip."""

    height: int
    block_hash: bytes
    state_root: bytes
    time_ms: int
    audit_length: int
    audit_head: bytes

    TAG = TAG_HEAD
    FIELDS = (
        ("height", U64),
        ("block_hash", HASH),
        ("state_root", HASH),
        ("time_ms", U64),
        ("audit_length", U64),
        ("audit_head", HASH),
    )


@dataclass(frozen=True, slots=True)
class Location(Encoded):
    """Where something is: block ``height`` and ``position`` inside it."""

    height: int
    position: int

    TAG = TAG_TX_LOCATION
    FIELDS = (("height", U64), ("position", U32))


_LOCATION_PREFIX = bytes([TAG_TX_LOCATION, Location.VERSION])


def location_bytes(height: int, position: int) -> bytes:
    """``Location(height, position).to_bytes()``, built directly (it is on hot paths)."""
    return _LOCATION_PREFIX + struct.pack(">QI", height, position)


_POSITIONS: list[bytes] = []


def block_locations(height: int, count: int) -> list[bytes]:
    """``[location_bytes(height, p) for p in range(count)]``: positions 0..count-1 of a block.

    The encoded positions are built once and reused (verify needs them for every block).
    """
    while len(_POSITIONS) < count:
        _POSITIONS.append(struct.pack(">I", len(_POSITIONS)))
    start = _LOCATION_PREFIX + struct.pack(">Q", height)
    return [start + position for position in _POSITIONS[:count]]


_AUDIT_PREFIX = bytes([TAG_AUDIT_RECORD, AuditRecord.VERSION])

#: The fields of an :class:`AuditRecord` in declaration order.
AuditRecordFields = tuple[int, int, int, bytes, bytes, bytes, bool, int, int, bytes, bytes]


def audit_record_bytes(record: AuditRecordFields) -> bytes:
    """``AuditRecord(*record).to_bytes()`` built directly (verify builds one per decision).

    The fields must be valid for an :class:`AuditRecord`; they are not re-checked here.
    """
    (
        seq, height, kind, request_id, record_id, requester, granted, approvals, denials, result,
        prev,
    ) = record
    return b"".join(
        (
            _AUDIT_PREFIX,
            struct.pack(">QQB", seq, height, kind),
            request_id,
            record_id,
            requester,
            b"\x01" if granted else b"\x00",
            struct.pack(">HH", approvals, denials),
            result,
            prev,
        )
    )
