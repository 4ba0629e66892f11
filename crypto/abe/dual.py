"""The dual key split of a record's data key (seed 000's dual mechanism, DESIGN 3.3).

A record's data-encryption key is ``DEK = HKDF(record id, K_pre, K_abe)``:

* ``K_pre`` travels the threshold path (node votes, access limits, audit); this module only
  hands it to the caller, who puts it under the domain key with
  :func:`crypto.dual.encrypt_to_domain` (its C1 proof bound to this record id and the owner)
  or encrypts it to the owner with the PRE scheme.
* ``K_abe`` is the FAME secret of a header under the record's policy, turned into bytes by HKDF.

A requester needs both: node approval and attribute keys. Either part alone is independent of
the DEK (HKDF is a PRF keyed by both), so it opens nothing. Type tag 0x85.

Seed 003's access token, here the *ABE binding* ``H(record id, K_abe)``
(:func:`abe_binding`), is what a requester puts in its fetch token to show it recovered
``K_abe``. The nodes never learn ``K_abe``: a record (version 3) commits the *key check*
``H(binding)`` (:func:`key_check`), which a node compares with the hash of the binding it is
shown. Version 2 records (sealed before the check existed) still decode; they carry no key
check, and a token for them carries no binding.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from crypto import aead, tags
from crypto.abe.ciphertext import FameCiphertext
from crypto.abe.envelope import secret_key_bytes
from crypto.abe.fame import decapsulate, encapsulate
from crypto.abe.keys import FamePublicKey, FameSecretKey
from crypto.abe.terms import AttributeTermCache
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.groups import Group
from crypto.hashing import DIGEST_SIZE, digest
from crypto.kdf import derive_key
from crypto.policy import Policy

TAG_DUAL_RECORD = tags.ABE_DUAL_RECORD
#: v2: tag moved out of the ledger's range (crypto.tags); v3: the key check after the record id.
VERSION = 3
LEGACY_VERSION = 2
PART_SIZE = 32
ABE_PART_LABEL = b"iomtshare/abe/dual/abe-part/v1"
DEK_LABEL = b"iomtshare/abe/dual/dek/v1"
ABE_BINDING_TAG = b"iomtshare/abe/dual/abe-binding/v1"
KEY_CHECK_TAG = b"iomtshare/abe/dual/key-check/v1"
MAX_RECORD_ID = 256
CHECK_SIZE = DIGEST_SIZE


def data_key(record_id: bytes, pre_part: bytes, abe_part: bytes) -> bytes:
    """``DEK = HKDF(record id, K_pre, K_abe)``; raises ``ValueError`` on wrong part sizes."""
    if len(pre_part) != PART_SIZE or len(abe_part) != PART_SIZE:
        raise ValueError(f"key parts must be {PART_SIZE} bytes each")
    return derive_key(DEK_LABEL, record_id, pre_part, abe_part)


def abe_binding(record_id: bytes, abe_part: bytes) -> bytes:
    """Seed 003's access token ``H(record id, K_abe)``: shows the FAME part was recovered."""
    return digest(ABE_BINDING_TAG, record_id, abe_part)


def key_check(binding: bytes) -> bytes:
    """What a record commits for its :func:`abe_binding`: ``H(binding)``."""
    return digest(KEY_CHECK_TAG, binding)


def binding_matches(check: bytes, binding: bytes) -> bool:
    """Whether ``binding`` hashes to the committed ``check`` (compared in constant time)."""
    return hmac.compare_digest(key_check(binding), check)


def _read_prefix(reader: Reader) -> tuple[bytes, bytes | None]:
    """Header, record id and (version 3) key check of a dual record."""
    tag = reader.u8()
    if tag != TAG_DUAL_RECORD:
        raise DecodeError(f"dual record: type tag {tag:#04x}, expected {TAG_DUAL_RECORD:#04x}")
    version = reader.u8()
    if version not in (LEGACY_VERSION, VERSION):
        raise DecodeError(
            f"dual record: unsupported version {version}, expected {LEGACY_VERSION} or {VERSION}"
        )
    record_id = reader.blob(MAX_RECORD_ID)
    return record_id, reader.fixed(CHECK_SIZE) if version == VERSION else None


def read_key_check(data: bytes) -> bytes | None:
    """The key check an encoded dual record commits (``None`` for a version 2 record), read
    without decoding its FAME header: for nodes checking a committed record's fetch tokens
    (admission decoded the whole record). Raises :class:`~crypto.errors.DecodeError`."""
    return _read_prefix(Reader(data, "dual record"))[1]


@dataclass(frozen=True, slots=True)
class DualRecord:
    """A record sealed under the dual split: the FAME header for ``K_abe``, the body and the
    key check of its ABE binding (``None``: a version 2 record, sealed before the check)."""

    record_id: bytes
    header: FameCiphertext
    body: bytes
    key_check: bytes | None = None

    def to_bytes(self) -> bytes:
        """Version 3, or version 2 (byte for byte as before) for a record without a check."""
        if self.key_check is None:
            writer = Writer(TAG_DUAL_RECORD, LEGACY_VERSION).blob(self.record_id)
        else:
            writer = Writer(TAG_DUAL_RECORD, VERSION).blob(self.record_id)
            writer.fixed(self.key_check, CHECK_SIZE)
        return writer.blob(self.header.to_bytes()).blob(self.body).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes, group: Group) -> DualRecord:
        def body(reader: Reader) -> DualRecord:
            record_id, check = _read_prefix(reader)
            header = FameCiphertext.from_bytes(reader.blob(), group)
            return cls(record_id, header, reader.blob(), check)

        return parse(data, "dual record", body)


def seal_record(
    public: FamePublicKey,
    policy: Policy,
    record_id: bytes,
    plaintext: bytes,
    cache: AttributeTermCache | None = None,
) -> tuple[DualRecord, bytes]:
    """Seal ``plaintext`` under the dual split.

    Returns the record (for storage; version 3, committing the key check of its ABE binding)
    and ``K_pre`` (32 bytes, secret), which the caller must encrypt to the owner through
    threshold PRE and then forget.
    """
    if len(record_id) > MAX_RECORD_ID:
        raise ValueError(f"record id longer than {MAX_RECORD_ID} bytes")
    secret, header = encapsulate(public, policy, cache)
    abe_part = secret_key_bytes(secret, header, ABE_PART_LABEL + record_id)
    pre_part = secrets.token_bytes(PART_SIZE)
    body = aead.seal(data_key(record_id, pre_part, abe_part), plaintext, record_id)
    check = key_check(abe_binding(record_id, abe_part))
    return DualRecord(record_id, header, body, check), pre_part


def recover_abe_part(public: FamePublicKey, key: FameSecretKey, record: DualRecord) -> bytes:
    """``K_abe`` of ``record`` for a key whose attributes satisfy its policy.

    Raises :class:`~crypto.abe.errors.UnsatisfiedPolicyError` otherwise. A forged key yields a
    wrong value, which :func:`open_record` then refuses.
    """
    secret = decapsulate(public, key, record.header)
    return secret_key_bytes(secret, record.header, ABE_PART_LABEL + record.record_id)


def open_record(record: DualRecord, pre_part: bytes, abe_part: bytes) -> bytes:
    """Decrypt the body with both parts; raises :class:`~crypto.errors.DecryptionError`."""
    return aead.open_sealed(
        data_key(record.record_id, pre_part, abe_part), record.body, record.record_id
    )
