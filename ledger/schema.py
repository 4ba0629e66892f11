"""Every key the ledger writes, built in this one module.

Keys are a one-byte namespace followed by fixed-width parts (32-byte ids, big-endian integers),
so byte order equals the natural order and a prefix never matches a longer id by accident.

====== ===================================== ==========================================
prefix key                                    value
====== ===================================== ==========================================
``!``  ``!genesis`` / ``!head``               Genesis bytes / Head
``b``  height                                 Block
``q``  height                                 CommitQC of that block
``h``  block hash                             Location(height, 0)
``t``  transaction id                         Location(height, position)
``m``  member id                              Member
``r``  record id                              RecordEntry
``o``  owner, record id                       empty (records by owner)
``k``  keywords hash, record id               empty (records by keywords)
``g``  record id, grantee                     GrantEntry
``v``  record id, grantee                     Revocation
``p``  access request id                      AccessRequest awaiting its sharing result
``n``  requester, nonce                       Location of the request
``c``  requester, record id                   Counter of granted accesses
``d``  requester                              Counter of denials
``x``  requester                              BlacklistEntry
``a``  member id, seq                         AttributeRecord (attribute-change chain)
``u``  audit seq                              AuditRecord (sharing-audit chain)
``R``  record id, audit seq                   empty (audit by record)
``Q``  requester, audit seq                   empty (audit by requester)
``U``  height, audit seq                      empty (audit by height)
``K``  member id                              AttributeKeyEntry (latest published key)
``E``  domain epoch                           DomainEpoch (a domain key dealt on chain)
``e``  (one key)                              Counter: the current domain epoch
``D``  device id                              DeviceEntry (a device registered on chain)
``w``  device id, domain epoch                DeviceRekey (the device's ReKey of that epoch)
``f``  record id, fragment index              StoredFragment (node-local, not chain state)
====== ===================================== ==========================================
"""

from __future__ import annotations

GENESIS = b"!genesis"
HEAD = b"!head"

BLOCK = b"b"
COMMIT_QC = b"q"
BLOCK_BY_HASH = b"h"
TX = b"t"
MEMBER = b"m"
RECORD = b"r"
RECORDS_BY_OWNER = b"o"
RECORDS_BY_KEYWORDS = b"k"
GRANT = b"g"
REVOCATION = b"v"
PENDING_REQUEST = b"p"
NONCE = b"n"
ACCESS_COUNT = b"c"
DENIALS = b"d"
BLACKLIST = b"x"
ATTRIBUTE_CHAIN = b"a"
AUDIT = b"u"
AUDIT_BY_RECORD = b"R"
AUDIT_BY_REQUESTER = b"Q"
AUDIT_BY_HEIGHT = b"U"
ATTRIBUTE_KEY = b"K"
DOMAIN_EPOCH = b"E"
CURRENT_DOMAIN_EPOCH = b"e"
DEVICE = b"D"
DEVICE_REKEY = b"w"
FRAGMENT = b"f"

#: Namespaces written by the state transition (they feed the state root); the rest are the
#: block store and its indexes.
STATE_NAMESPACES = frozenset(
    [
        MEMBER,
        RECORD,
        RECORDS_BY_OWNER,
        RECORDS_BY_KEYWORDS,
        GRANT,
        REVOCATION,
        PENDING_REQUEST,
        NONCE,
        ACCESS_COUNT,
        DENIALS,
        BLACKLIST,
        ATTRIBUTE_CHAIN,
        AUDIT,
        AUDIT_BY_RECORD,
        AUDIT_BY_REQUESTER,
        AUDIT_BY_HEIGHT,
        ATTRIBUTE_KEY,
        DOMAIN_EPOCH,
        CURRENT_DOMAIN_EPOCH,
        DEVICE,
        DEVICE_REKEY,
    ]
)


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def _id(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError(f"ids in keys are 32 bytes, got {len(value)}")
    return value


def block(height: int) -> bytes:
    return BLOCK + _u64(height)


def commit_qc(height: int) -> bytes:
    return COMMIT_QC + _u64(height)


def block_by_hash(block_hash: bytes) -> bytes:
    return BLOCK_BY_HASH + _id(block_hash)


def tx(tx_id: bytes) -> bytes:
    return TX + _id(tx_id)


def member(member_id: bytes) -> bytes:
    return MEMBER + _id(member_id)


def record(record_id: bytes) -> bytes:
    return RECORD + _id(record_id)


def record_by_owner(owner: bytes, record_id: bytes) -> bytes:
    return RECORDS_BY_OWNER + _id(owner) + _id(record_id)


def record_by_keywords(keywords_hash: bytes, record_id: bytes) -> bytes:
    return RECORDS_BY_KEYWORDS + _id(keywords_hash) + _id(record_id)


def grant(record_id: bytes, grantee: bytes) -> bytes:
    return GRANT + _id(record_id) + _id(grantee)


def revocation(record_id: bytes, grantee: bytes) -> bytes:
    return REVOCATION + _id(record_id) + _id(grantee)


def pending_request(request_id: bytes) -> bytes:
    return PENDING_REQUEST + _id(request_id)


def nonce(requester: bytes, value: bytes) -> bytes:
    if len(value) != 16:
        raise ValueError("nonces are 16 bytes")
    return NONCE + _id(requester) + value


def access_count(requester: bytes, record_id: bytes) -> bytes:
    return ACCESS_COUNT + _id(requester) + _id(record_id)


def denials(requester: bytes) -> bytes:
    return DENIALS + _id(requester)


def blacklist(requester: bytes) -> bytes:
    return BLACKLIST + _id(requester)


def attribute_record(member_id: bytes, seq: int) -> bytes:
    return ATTRIBUTE_CHAIN + _id(member_id) + seq.to_bytes(4, "big")


def attribute_chain(member_id: bytes) -> bytes:
    """Prefix of one member's attribute-change chain."""
    return ATTRIBUTE_CHAIN + _id(member_id)


def audit(seq: int) -> bytes:
    return AUDIT + _u64(seq)


def audit_by_record(record_id: bytes, seq: int) -> bytes:
    return AUDIT_BY_RECORD + _id(record_id) + _u64(seq)


def audit_by_requester(requester: bytes, seq: int) -> bytes:
    return AUDIT_BY_REQUESTER + _id(requester) + _u64(seq)


def audit_by_height(height: int, seq: int) -> bytes:
    return AUDIT_BY_HEIGHT + _u64(height) + _u64(seq)


def attribute_key(member_id: bytes) -> bytes:
    return ATTRIBUTE_KEY + _id(member_id)


def domain_epoch(epoch: int) -> bytes:
    return DOMAIN_EPOCH + epoch.to_bytes(4, "big")


def device(device_id: bytes) -> bytes:
    return DEVICE + _id(device_id)


def device_rekey(device_id: bytes, epoch: int) -> bytes:
    return DEVICE_REKEY + _id(device_id) + epoch.to_bytes(4, "big")


def prefixed(namespace: bytes, *ids: bytes) -> bytes:
    """A namespace followed by leading ids: the prefix for iterating an index."""
    return namespace + b"".join(_id(i) for i in ids)


def trailing_u64(key: bytes) -> int:
    """The big-endian integer in the last 8 bytes of ``key`` (an audit seq or a height)."""
    return int.from_bytes(key[-8:], "big")


def trailing_id(key: bytes) -> bytes:
    """The 32-byte id at the end of ``key``."""
    return key[-32:]


def fragment(record_id: bytes, index: int) -> bytes:
    return FRAGMENT + _id(record_id) + index.to_bytes(2, "big")
