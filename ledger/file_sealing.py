"""Sealing a file as a new record's bulk data: what an owner's put and a device's upload share.

:func:`seal_file` picks a fresh record id and data key (DEK), seals the file under the DEK with
XChaCha20-Poly1305 (the record id as associated data), erasure-codes the ciphertext t-of-n with
a per-fragment commitment, and builds the record's metadata (DEK, file digest, size, commitment
digest, name). Where the metadata goes (to the owner's TPRE key, under a policy) is the
caller's part.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from crypto import aead
from crypto.storage import ErasureCoded, encode
from ledger.record_metadata import DEK_SIZE, RecordMetadata, file_digest


@dataclass(frozen=True, slots=True)
class SealedFile:
    """A new record's id, its bulk ciphertext, the fragments of it and its metadata."""

    record_id: bytes
    bulk: bytes
    coded: ErasureCoded
    metadata: RecordMetadata


def seal_file(data: bytes, name: str, threshold: int, total: int) -> SealedFile:
    """Seal ``data`` as a new record (see the module docstring); raises :class:`ValueError`
    for erasure-coding parameters outside 1 <= t <= n <= 256."""
    record_id = secrets.token_bytes(32)
    dek = secrets.token_bytes(DEK_SIZE)
    bulk = aead.seal(dek, data, record_id)
    coded = encode(bulk, threshold, total)
    metadata = RecordMetadata(
        dek=dek,
        file_digest=file_digest(data),
        size=len(data),
        commitment_digest=coded.commitment.digest(),
        name=name,
    )
    return SealedFile(record_id, bulk, coded, metadata)
