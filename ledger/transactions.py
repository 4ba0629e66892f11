"""Signed client transactions.

Twelve types, each a frozen dataclass whose last field is an Ed25519 signature:

=================== ======================================== =============================
type                what it does                             signed by
=================== ======================================== =============================
RegisterMember      admits a pseudonymous member             the authority
AttributeChange     replaces a member's attribute set        the authority
PutRecord           publishes a record's metadata ciphertext the record owner, or the edge of
                                                             the device that made it
Grant               gives a grantee t-of-n re-key shares     the record owner
Revoke              withdraws a grant                        the record owner
AccessRequest       asks for a record (fresh, with a nonce)  the requester
KeyUpdate           rotates a member's keys                  the member's current key
Unblacklist         lifts a member's blacklisting            the authority
PublishAttributeKey publishes a member's attribute key       the authority
RotateDomainKey     deals the domain key as a new epoch      the authority
RegisterDevice      puts a device, its owner, edge and ReKey the authority
RekeyDevice         adds a device's ReKey for a new epoch    the authority
=================== ======================================== =============================

The signature covers :meth:`Transaction.signing_payload`, which binds the chain id to the
encoding of every other field. Cryptographic objects (ciphertexts, sealed re-key shares,
commitments) are opaque canonical bytes produced by :mod:`crypto`; the ledger stores them without
interpreting them. The transaction id is the hash of the full encoding, so resubmitting the same
transaction is recognised as a duplicate.

Transactions whose order matters name what they follow (:mod:`ledger.ordering`), so a signed
transaction held back and submitted after a newer one has committed is refused instead of
undoing it: an AttributeChange names its position ``seq`` on the member's attribute-change chain,
a Grant or Revoke its ``version`` for its (record, grantee) pair, and an Unblacklist the height
of the blacklisting it lifts.

Versions: AttributeChange, Grant and Revoke are version 2 (version 1 had no ``seq`` or
``version`` field and could be replayed out of order). PutRecord is version 2 (version 1 had no
``domain_epoch`` or ``domain_ciphertext``, so a policy record could not carry its domain half);
a PutRecord that an edge submits for a device is version 3, which appends ``device_id`` before
the signature. An owner's own record (``device_id`` empty) stays version 2, so its encoding and
id are what they were; a version-2 encoding decodes with ``device_id`` empty. Devices and their
checks: :mod:`ledger.devices`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache
from typing import Any, ClassVar, Self

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.hashing import digest
from crypto.signing import SIGNATURE_SIZE, SigningKey, VerifyKey
from ledger.decoders import compile_decoder
from ledger.encoding import (
    BLOB,
    HASH,
    HASHES,
    KEY,
    NONCE,
    SIGNATURE,
    TAG_ACCESS_REQUEST,
    TAG_ATTRIBUTE_CHANGE,
    TAG_GRANT,
    TAG_KEY_UPDATE,
    TAG_PUT_RECORD,
    TAG_REGISTER_DEVICE,
    TAG_REGISTER_MEMBER,
    TAG_REKEY_DEVICE,
    TAG_REVOKE,
    TAG_UNBLACKLIST,
    TEXT,
    TEXTS,
    U8,
    U16,
    U32,
    U64,
    Encoded,
    Kind,
    bytes_decoder,
    nested,
    peek_tag,
    sequence,
)
from ledger.fasthash import OnePartDigest
from ledger.genesis import DomainKeys

TX_SIGN_TAG = b"iomtshare/ledger/tx-signature/v1"
TX_ID_TAG = b"iomtshare/ledger/tx-id/v1"
MEMBER_ID_TAG = b"iomtshare/ledger/member-id/v1"
DEVICE_ID_TAG = b"iomtshare/ledger/device-id/v1"
#: PutRecord's encoding version when it names a device (see the module docstring).
PUT_RECORD_DEVICE_VERSION = 3
TAG_PUBLISH_ATTRIBUTE_KEY = tags.LEDGER_PUBLISH_ATTRIBUTE_KEY
TAG_ROTATE_DOMAIN_KEY = tags.LEDGER_ROTATE_DOMAIN_KEY
EMPTY_SIGNATURE = bytes(64)


class MemberRole(IntEnum):
    """What a member does; stored as one byte."""

    OWNER = 1
    REQUESTER = 2
    DEVICE = 3
    EDGE = 4


def member_id_for(verify_key: VerifyKey | bytes) -> bytes:
    """The default pseudonymous member id: a hash of the member's first Ed25519 key."""
    return digest(MEMBER_ID_TAG, bytes(verify_key))


def device_id_for(device_key: bytes) -> bytes:
    """A device's id: a hash of its public key (the canonical bytes of a
    :class:`crypto.dual.DevicePublicKey`)."""
    return digest(DEVICE_ID_TAG, device_key)


@dataclass(frozen=True, slots=True)
class Transaction(Encoded):
    """Base of the signed transactions; every subclass ends its FIELDS with ``signature``.

    The canonical encoding is cached on first use (transactions are immutable), because a
    block's transactions are encoded for their ids, the tx root and storage.
    """

    _encoded: bytes = field(default=b"", init=False, repr=False, compare=False)
    CACHED_ENCODING = "_encoded"

    def to_bytes(self) -> bytes:
        if not self._encoded:
            object.__setattr__(self, "_encoded", Encoded.to_bytes(self))
        return self._encoded

    def remember_encoding(self, data: bytes) -> None:
        object.__setattr__(self, "_encoded", bytes(data))

    def body_bytes(self) -> bytes:
        """The encoding of every field except the signature.

        The signature is the last field and has a fixed width, so the body is the canonical
        encoding without its last 64 bytes.
        """
        return self.to_bytes()[:-SIGNATURE_SIZE]

    def signing_payload(self, chain_id: str) -> bytes:
        return digest(TX_SIGN_TAG, chain_id.encode("utf-8"), self.body_bytes())

    def signed(self, key: SigningKey, chain_id: str) -> Self:
        """A copy carrying ``key``'s signature over :meth:`signing_payload`."""
        signature = key.sign(self.signing_payload(chain_id))
        return dataclasses.replace(self, signature=signature)  # type: ignore[call-arg]

    def verify_signature(self, key: VerifyKey, chain_id: str) -> None:
        """Raise :class:`VerificationError` unless ``key`` signed this transaction."""
        key.verify(self.signing_payload(chain_id), self.signature_bytes())

    def signature_bytes(self) -> bytes:
        """The transaction's Ed25519 signature (the last field of every type)."""
        value: bytes = getattr(self, "signature")  # noqa: B009 - declared by every subclass
        return value

    def tx_id(self) -> bytes:
        return tx_id_of(self.to_bytes())


_tx_id = OnePartDigest(TX_ID_TAG)


def tx_id_of(encoded: bytes) -> bytes:
    """The id of the transaction whose canonical encoding is ``encoded``:
    ``digest(TX_ID_TAG, encoded)``."""
    return _tx_id(encoded)


def tx_ids_of(encoded: Iterable[bytes]) -> list[bytes]:
    """:func:`tx_id_of` of each encoding, in order."""
    return _tx_id.each(encoded)


def _fields(*names_kinds: Any) -> tuple[Any, ...]:
    return (*names_kinds, ("signature", SIGNATURE))


@dataclass(frozen=True, slots=True)
class RegisterMember(Transaction):
    """Admit a member with its keys, role and initial attributes (authority-signed)."""

    member_id: bytes
    verify_key: bytes
    box_key: bytes
    role: int
    attributes: tuple[str, ...]
    registered_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_REGISTER_MEMBER
    FIELDS = _fields(
        ("member_id", HASH),
        ("verify_key", KEY),
        ("box_key", KEY),
        ("role", U8),
        ("attributes", TEXTS),
        ("registered_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class AttributeChange(Transaction):
    """Replace a member's attribute set; appended to the member's attribute-change chain.

    ``seq`` is the position the change takes on that chain: one past the member's latest link
    (the registration is link 0), so a change applies only right after the link it was made on.
    """

    member_id: bytes
    seq: int
    attributes: tuple[str, ...]
    reason: str
    issued_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_ATTRIBUTE_CHANGE
    VERSION = 2
    FIELDS = _fields(
        ("member_id", HASH),
        ("seq", U32),
        ("attributes", TEXTS),
        ("reason", TEXT),
        ("issued_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class PutRecord(Transaction):
    """Publish a record: keywords hash H(kws), access policy, access limit delta, ciphertexts.

    An owner-grant record (shared by Grant) has an empty ``policy``, ``abe_ciphertext`` and
    ``domain_ciphertext`` (and ``domain_epoch`` 0). A policy record carries the FAME half of its
    dual key in ``abe_ciphertext`` (a :class:`crypto.abe.dual.DualRecord`) and K_pre encrypted
    to the network's domain key of epoch ``domain_epoch``, with its proof of knowledge of the
    randomness, in ``domain_ciphertext`` (a :class:`crypto.dual.DomainCiphertext`).

    ``device_id`` is empty when the owner signs; when an edge submits the record for a device
    registered on chain, it names that device and the edge signs (encoding version 3).
    """

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
    device_id: bytes = b""
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_PUT_RECORD
    VERSION = 2
    #: Version 2's fields, which the encoding framework (and the compiled decoder) works from.
    FIELDS = _fields(
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
    )
    #: Version 3's: version 2's, then the device id, then the signature.
    DEVICE_FIELDS: ClassVar[tuple[tuple[str, Kind[Any]], ...]] = (
        *FIELDS[:-1], ("device_id", HASH), FIELDS[-1]
    )

    def __post_init__(self) -> None:
        Encoded.__post_init__(self)
        if not isinstance(self.device_id, bytes) or len(self.device_id) not in (0, 32):
            raise ValueError("PutRecord.device_id must be empty or 32 bytes")

    @property
    def encoding_version(self) -> int:
        """3 when the record names a device, else 2."""
        return PUT_RECORD_DEVICE_VERSION if self.device_id else self.VERSION

    def _fields_of(self) -> tuple[tuple[str, Kind[Any]], ...]:
        return self.DEVICE_FIELDS if self.device_id else tuple(self.FIELDS)

    def to_bytes(self) -> bytes:
        if not self._encoded:
            writer = Writer(self.TAG, self.encoding_version)
            for name, kind in self._fields_of():
                kind.write(writer, getattr(self, name))
            object.__setattr__(self, "_encoded", writer.to_bytes())
        return self._encoded

    @classmethod
    def _version_of(cls, data: bytes) -> int:
        if len(data) > 1 and data[0] == cls.TAG and data[1] == PUT_RECORD_DEVICE_VERSION:
            return PUT_RECORD_DEVICE_VERSION
        return cls.VERSION

    @classmethod
    def from_bytes(cls, data: bytes) -> PutRecord:
        """Either version, through a decoder compiled for it (:mod:`ledger.decoders`)."""
        if type(data) is bytes and len(data) > 1 and data[1] == PUT_RECORD_DEVICE_VERSION:
            return _device_put_decoder()(data)  # type: ignore[no-any-return]
        from_bytes = Encoded.from_bytes.__func__  # type: ignore[attr-defined]
        decoded: PutRecord = from_bytes(cls, data)
        return decoded

    @classmethod
    def from_bytes_by_field(cls, data: bytes) -> PutRecord:
        """Either version, field by field (each compiled decoder hands here whatever it does
        not accept); raises :class:`DecodeError`."""
        if len(data) > 1 and data[0] == cls.TAG and data[1] not in (2, 3):
            raise DecodeError(f"{cls.__name__}: unsupported version {data[1]}, expected 2 or 3")
        if cls._version_of(data) == cls.VERSION:
            by_field = Encoded.from_bytes_by_field.__func__  # type: ignore[attr-defined]
            decoded: PutRecord = by_field(cls, data)
            object.__setattr__(decoded, "device_id", b"")
            return decoded
        values: dict[str, Any] = {}
        pos = 2
        try:
            for name, kind in cls.DEVICE_FIELDS:
                values[name], pos = kind.fast(data, pos)
            if pos != len(data):
                raise DecodeError(f"{len(data) - pos} trailing bytes after the encoding")
        except DecodeError as exc:
            raise DecodeError(f"{cls.__name__}: {exc}") from exc
        decoded = cls.from_fields(values)
        decoded.remember_encoding(data)
        return decoded

    @classmethod
    def from_bytes_with_reader(cls, data: bytes) -> PutRecord:
        """The reference decoder, for either version."""
        version = cls._version_of(data)
        fields = cls.DEVICE_FIELDS if version == PUT_RECORD_DEVICE_VERSION else cls.FIELDS

        def body(reader: Reader) -> PutRecord:
            reader.expect_header(cls.TAG, version)
            values = {name: kind.read(reader) for name, kind in fields}
            values.setdefault("device_id", b"")
            return cls.from_fields(values)

        decoded: PutRecord = parse(data, cls.__name__, body)
        decoded.remember_encoding(data)
        return decoded


@dataclass(frozen=True, slots=True)
class Grant(Transaction):
    """Give ``grantee`` access: re-key shares sealed to the nodes, their commitments F_j.

    ``version`` is one past the latest Grant or Revoke of this (record, grantee) pair (1 for
    the first); ``threshold`` is at least the network's.
    """

    record_id: bytes
    owner: bytes
    grantee: bytes
    version: int
    threshold: int
    expires_at_ms: int
    sealed_rekey_shares: bytes
    commitments: bytes
    issued_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_GRANT
    VERSION = 2
    FIELDS = _fields(
        ("record_id", HASH),
        ("owner", HASH),
        ("grantee", HASH),
        ("version", U32),
        ("threshold", U16),
        ("expires_at_ms", U64),
        ("sealed_rekey_shares", BLOB),
        ("commitments", BLOB),
        ("issued_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class Revoke(Transaction):
    """Withdraw the grant of ``grantee`` on ``record_id``; ``version`` as for :class:`Grant`."""

    record_id: bytes
    owner: bytes
    grantee: bytes
    version: int
    issued_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_REVOKE
    VERSION = 2
    FIELDS = _fields(
        ("record_id", HASH),
        ("owner", HASH),
        ("grantee", HASH),
        ("version", U32),
        ("issued_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class AccessRequest(Transaction):
    """Ask for a record. Fresh: ``timestamp_ms`` near the block time and an unused nonce."""

    requester: bytes
    record_id: bytes
    keywords_hash: bytes
    attribute_hashes: tuple[bytes, ...]
    timestamp_ms: int
    nonce: bytes
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_ACCESS_REQUEST
    FIELDS = _fields(
        ("requester", HASH),
        ("record_id", HASH),
        ("keywords_hash", HASH),
        ("attribute_hashes", HASHES),
        ("timestamp_ms", U64),
        ("nonce", NONCE),
    )


@dataclass(frozen=True, slots=True)
class KeyUpdate(Transaction):
    """Rotate a member's Ed25519 and X25519 keys and publish new public key material."""

    member_id: bytes
    new_verify_key: bytes
    new_box_key: bytes
    public_key_material: bytes
    issued_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_KEY_UPDATE
    FIELDS = _fields(
        ("member_id", HASH),
        ("new_verify_key", KEY),
        ("new_box_key", KEY),
        ("public_key_material", BLOB),
        ("issued_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class Unblacklist(Transaction):
    """Lift the blacklisting of ``member_id`` that happened at block ``blacklisted_height``.

    Naming the height ties the transaction to one blacklisting: held back, it cannot lift a
    later one. Applying it clears the member's denial count and appends an entry to the
    sharing-audit chain.
    """

    member_id: bytes
    blacklisted_height: int
    reason: str
    issued_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_UNBLACKLIST
    FIELDS = _fields(
        ("member_id", HASH),
        ("blacklisted_height", U64),
        ("reason", TEXT),
        ("issued_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class PublishAttributeKey(Transaction):
    """Publish a member's attribute key (authority-signed), so its client fetches it from any node.

    ``issued_key`` is the canonical encoding of a :class:`client.attribute_keys.IssuedAttributeKey`:
    the member's FAME key sealed to its box key and signed by the authority, made for the link
    ``attribute_seq`` (with hash ``attribute_head``) of the member's attribute-change chain. The
    ledger does not open it (it cannot: only the member's box key does); it checks the authority's
    signature and that the link named is the member's current head, and keeps the latest key per
    member. The member's client checks that the key inside names the same member and link.
    """

    member_id: bytes
    attribute_seq: int
    attribute_head: bytes
    issued_key: bytes
    issued_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_PUBLISH_ATTRIBUTE_KEY
    FIELDS = _fields(
        ("member_id", HASH),
        ("attribute_seq", U32),
        ("attribute_head", HASH),
        ("issued_key", BLOB),
        ("issued_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class RotateDomainKey(Transaction):
    """Deal the domain key again as epoch ``domain.epoch`` (authority-signed; seed 000 ReKeyUpdate).

    ``domain`` holds the new epoch's public key pk_p, threshold and every node's ``VK_i``, as a
    genesis does for epoch 0; ``sealed_shares[i - 1]`` is node i's share of the new ``p2``
    (a :class:`crypto.dual.SealedDomainShare`), sealed to that node's box key. Records keep the
    epoch they were put under; new records must use the latest (see
    :mod:`ledger.authority_state`, which also says why the sealed shares travel on chain).
    """

    domain: DomainKeys
    sealed_shares: tuple[bytes, ...]
    reason: str
    issued_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_ROTATE_DOMAIN_KEY
    FIELDS = _fields(
        ("domain", nested(DomainKeys)),
        ("sealed_shares", sequence(BLOB)),
        ("reason", TEXT),
        ("issued_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class RegisterDevice(Transaction):
    """Put a device on chain (authority-signed): its public key, the member whose data it
    measures, the genesis edge that submits its records, and its ReKey to the domain key of the
    current epoch ``domain_epoch``.

    ``device_key`` is a :class:`crypto.dual.DevicePublicKey`, ``device_id`` its hash
    (:func:`device_id_for`), ``rekey`` a :class:`crypto.dual.ReKey`. A ReKey is public: it lets
    whoever holds it turn the device's ciphertexts into ciphertexts under the domain key, which
    only t of the n nodes together can open. Checks: :mod:`ledger.devices`.
    """

    device_id: bytes
    device_key: bytes
    owner: bytes
    edge: str
    domain_epoch: int
    rekey: bytes
    registered_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_REGISTER_DEVICE
    FIELDS = _fields(
        ("device_id", HASH),
        ("device_key", BLOB),
        ("owner", HASH),
        ("edge", TEXT),
        ("domain_epoch", U32),
        ("rekey", BLOB),
        ("registered_at_ms", U64),
    )


@dataclass(frozen=True, slots=True)
class RekeyDevice(Transaction):
    """Add a registered device's ReKey for the current domain epoch ``domain_epoch``
    (authority-signed; seed 000's ReKeyUpdate for one device after a rotation). The ReKeys of
    earlier epochs stay on chain."""

    device_id: bytes
    domain_epoch: int
    rekey: bytes
    issued_at_ms: int
    signature: bytes = EMPTY_SIGNATURE

    TAG = TAG_REKEY_DEVICE
    FIELDS = _fields(
        ("device_id", HASH),
        ("domain_epoch", U32),
        ("rekey", BLOB),
        ("issued_at_ms", U64),
    )


@cache
def _device_put_decoder() -> Callable[[bytes], Any]:
    """The compiled decoder of version-3 PutRecords (the generic one covers version 2)."""
    plan = [(name, kind.layout, kind.fast, kind.embedded_items)
            for name, kind in PutRecord.DEVICE_FIELDS]
    return compile_decoder(
        PutRecord, plan, bools=frozenset(), header=(PutRecord.TAG, PUT_RECORD_DEVICE_VERSION),
        by_field=PutRecord.from_bytes_by_field, remember=None,
        cache_slot=PutRecord.CACHED_ENCODING,
    )


TRANSACTION_TYPES: dict[int, type[Transaction]] = {
    cls.TAG: cls
    for cls in (
        RegisterMember,
        AttributeChange,
        PutRecord,
        Grant,
        Revoke,
        AccessRequest,
        KeyUpdate,
        Unblacklist,
        PublishAttributeKey,
        RotateDomainKey,
        RegisterDevice,
        RekeyDevice,
    )
}


def put_record_id(encoded: bytes) -> bytes:
    """The record id of an encoded PutRecord without decoding it (its first field).

    Raises :class:`DecodeError` if ``encoded`` does not start like a PutRecord.
    """
    if len(encoded) < 34 or encoded[0] != PutRecord.TAG:
        raise DecodeError("not an encoded PutRecord")
    return encoded[2:34]


_DECODERS_BY_TAG: dict[int, Callable[[bytes], Transaction]] = {
    tag: bytes_decoder(cls) for tag, cls in TRANSACTION_TYPES.items()
}
_DECODERS_BY_TAG[PutRecord.TAG] = PutRecord.from_bytes  # either version


def decode_transaction(data: bytes) -> Transaction:
    """Decode any transaction by its type tag; raises :class:`DecodeError`."""
    # Blocks decode a hundred transactions at a time: bytes go straight to their type's decoder.
    if type(data) is bytes and data:
        decode = _DECODERS_BY_TAG.get(data[0])
        if decode is not None:
            return decode(data)
    cls = TRANSACTION_TYPES.get(peek_tag(data))
    if cls is None:
        raise DecodeError(f"transaction: unknown type tag {data[0]:#04x}")
    return cls.from_bytes(data)


__all__ = [
    "AccessRequest",
    "AttributeChange",
    "Grant",
    "KeyUpdate",
    "MemberRole",
    "PublishAttributeKey",
    "PutRecord",
    "RegisterDevice",
    "RegisterMember",
    "RekeyDevice",
    "Revoke",
    "RotateDomainKey",
    "Transaction",
    "Unblacklist",
    "decode_transaction",
    "device_id_for",
    "member_id_for",
    "put_record_id",
    "tx_id_of",
    "tx_ids_of",
]
