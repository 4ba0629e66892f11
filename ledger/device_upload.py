"""What a device sends its edge, and the PutRecord the edge makes of it.

A :class:`DeviceUpload` is one record encrypted on the device (``client.device_upload`` makes
it): the record's fields, K_pre under the *device's* key with a C1 proof bound to (record id,
owner, chain) (``crypto.dual.encrypt_dct``), the FAME header and sealed metadata of a policy
record, the metadata sealed to the owner, the storage commitment and the AEAD-sealed bulk data.
Nothing in it is readable by the edge.

Version 2 carries the device's signature (:mod:`crypto.dual.device_signature`, a proof of
knowledge of the device secret ``u1``) over the chain id, the device id and every other field
(:meth:`DeviceUpload.signed_message`). Encrypt_DCT takes only the device's public key and the
C1 proof only shows its maker knows its own randomness, so without the signature anyone could
build an upload for any device from chain data. The unsigned version 1 still decodes
(:meth:`DeviceUpload.version_1_fields`), so the edge can name what it refuses.

:func:`device_put_record` is the edge's step (and the in-process tests'): it normalizes the
device ciphertext to the domain key of one epoch with the device's public ReKey
(``ReEncrypt_ECL``), checks the proof against the record's own context and returns the
unsigned PutRecord version 3 naming the device. The edge signs it with its node key; it checks
the device signature (:meth:`DeviceUpload.check_signature`) before that.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.dual import (
    DeviceCiphertext,
    DevicePublicKey,
    DeviceSecretKey,
    DeviceSignature,
    DualParams,
    ReKey,
    reencrypt_ecl,
    verify_ciphertext,
)
from crypto.dual.device_signature import sign, verify
from ledger.content import record_context
from ledger.encoding import BLOB, HASH, TEXT, U32, U64, Encoded, Kind
from ledger.transactions import PutRecord

TAG_DEVICE_UPLOAD = tags.LEDGER_DEVICE_UPLOAD
#: The largest encoded upload an edge takes (the bulk data is most of it).
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
#: The version devices sent before they signed their uploads; the edge refuses it.
UNSIGNED_VERSION = 1
#: Version 1's fields (and version 2's, before the signature).
UPLOAD_FIELDS: tuple[tuple[str, Kind[Any]], ...] = (
    ("device_id", HASH),
    ("record_id", HASH),
    ("owner", HASH),
    ("policy", TEXT),
    ("access_limit", U32),
    ("keywords_hash", HASH),
    ("metadata_ciphertext", BLOB),
    ("storage_commitment", BLOB),
    ("abe_ciphertext", BLOB),
    ("device_ciphertext", BLOB),
    ("bulk", BLOB),
    ("created_at_ms", U64),
)


@dataclass(frozen=True, slots=True)
class DeviceUpload(Encoded):
    """One device record on its way to the edge (canonical, version 2): version 1's fields,
    then the device's signature.

    ``device_ciphertext`` is a :class:`crypto.dual.DeviceCiphertext` of K_pre,
    ``abe_ciphertext`` a :class:`crypto.abe.DualRecord` (FAME header, sealed metadata and,
    from version 3 on, the key check that requesters' fetch tokens are checked against),
    ``metadata_ciphertext`` the metadata sealed to the owner's TPRE key,
    ``storage_commitment`` a :class:`crypto.storage.StorageCommitment` of ``bulk``,
    ``signature`` a :class:`crypto.dual.DeviceSignature` of :meth:`signed_message`.
    """

    device_id: bytes
    record_id: bytes
    owner: bytes
    policy: str
    access_limit: int
    keywords_hash: bytes
    metadata_ciphertext: bytes
    storage_commitment: bytes
    abe_ciphertext: bytes
    device_ciphertext: bytes
    bulk: bytes
    created_at_ms: int
    signature: bytes

    TAG = TAG_DEVICE_UPLOAD
    VERSION = 2
    FIELDS = (*UPLOAD_FIELDS, ("signature", BLOB))

    def _unsigned_encoding(self, version: int) -> bytes:
        writer = Writer(self.TAG, version)
        for name, kind in UPLOAD_FIELDS:
            kind.write(writer, getattr(self, name))
        return writer.to_bytes()

    def signed_message(self) -> bytes:
        """What the device signs: the canonical encoding of this upload without the signature
        (type tag, version 2, then every other field, blobs and text length-prefixed)."""
        return self._unsigned_encoding(self.VERSION)

    def version_1_bytes(self) -> bytes:
        """The unsigned version 1 encoding of these fields, as devices sent it before they
        signed (for tests and vectors: the edge refuses it)."""
        return self._unsigned_encoding(UNSIGNED_VERSION)

    @classmethod
    def version_1_fields(cls, data: bytes) -> dict[str, Any]:
        """The fields of an unsigned version 1 upload; raises
        :class:`~crypto.errors.DecodeError` unless ``data`` is exactly one."""

        def body(reader: Reader) -> dict[str, Any]:
            reader.expect_header(cls.TAG, UNSIGNED_VERSION)
            return {name: kind.read(reader) for name, kind in UPLOAD_FIELDS}

        fields: dict[str, Any] = parse(data, "device upload version 1", body)
        return fields

    def signed(self, params: DualParams, secret: DeviceSecretKey, chain_id: str) -> DeviceUpload:
        """This upload with the signature of ``secret`` (the device's key) for ``chain_id``."""
        signature = sign(
            params, secret, chain_id.encode("utf-8"), self.device_id, self.signed_message()
        )
        return dataclasses.replace(self, signature=signature.to_bytes())

    def check_signature(self, params: DualParams, device_key: bytes, chain_id: str) -> None:
        """Raise :class:`~crypto.errors.DecodeError` if ``device_key`` (a canonical
        :class:`~crypto.dual.DevicePublicKey`) or the signature does not decode, and
        :class:`~crypto.errors.VerificationError` unless the signature is that key's on
        :meth:`signed_message` for this device and ``chain_id``."""
        public = DevicePublicKey.from_bytes(params, device_key)
        signature = DeviceSignature.from_bytes(params, self.signature)
        verify(
            params, public, chain_id.encode("utf-8"), self.device_id, self.signed_message(),
            signature,
        )


def device_put_record(
    params: DualParams, upload: DeviceUpload, rekey: ReKey, epoch: int, chain_id: str
) -> PutRecord:
    """The unsigned PutRecord (version 3, ``device_id`` set) of ``upload`` under domain epoch
    ``epoch``, whose ReKey for this device is ``rekey``.

    Raises :class:`~crypto.errors.DecodeError` if the device ciphertext does not decode and
    :class:`~crypto.errors.VerificationError` if its C1 proof does not hold for (record id,
    owner, ``chain_id``).
    """
    sealed = DeviceCiphertext.from_bytes(params, upload.device_ciphertext)
    normalized = reencrypt_ecl(params, sealed, rekey)
    verify_ciphertext(params, normalized, record_context(upload.record_id, upload.owner, chain_id))
    return PutRecord(
        record_id=upload.record_id,
        owner=upload.owner,
        keywords_hash=upload.keywords_hash,
        policy=upload.policy,
        access_limit=upload.access_limit,
        metadata_ciphertext=upload.metadata_ciphertext,
        storage_commitments=upload.storage_commitment,
        abe_ciphertext=upload.abe_ciphertext,
        domain_epoch=epoch,
        domain_ciphertext=normalized.to_bytes(),
        created_at_ms=upload.created_at_ms,
        device_id=upload.device_id,
    )
