"""What a record's metadata ciphertext holds once opened (seed 002 eq. 4, DESIGN 3.2).

The owner encrypts a :class:`RecordMetadata` to itself; after a granted request the requester
opens the re-encrypted copy and learns the data key (DEK), the digest and size of the file and
which storage commitment the bulk ciphertext must match. Canonical bytes: type tag 0xF0,
version 1, then the fields in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.hashing import DIGEST_SIZE, digest
from ledger.keywords import keywords_hash as keywords_hash  # the nodes compare the same bytes

METADATA_TYPE_TAG = tags.RECORD_METADATA
METADATA_VERSION = 1
DEK_SIZE = 32
MAX_NAME_BYTES = 255

FILE_DIGEST_TAG = b"iomtshare/client/file/v1"


def file_digest(data: bytes) -> bytes:
    """The digest that names a file's plaintext inside its metadata."""
    return digest(FILE_DIGEST_TAG, data)


@dataclass(frozen=True, slots=True)
class RecordMetadata:
    """DEK, plaintext digest and size, digest of the storage commitment, original file name."""

    dek: bytes
    file_digest: bytes
    size: int
    commitment_digest: bytes
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.dek) != DEK_SIZE:
            raise DecodeError(f"record metadata: the DEK is {DEK_SIZE} bytes")
        if len(self.file_digest) != DIGEST_SIZE or len(self.commitment_digest) != DIGEST_SIZE:
            raise DecodeError(f"record metadata: digests are {DIGEST_SIZE} bytes")
        if not 0 <= self.size < 1 << 64:
            raise DecodeError("record metadata: size out of range")
        if len(self.name.encode("utf-8")) > MAX_NAME_BYTES:
            raise DecodeError(f"record metadata: name longer than {MAX_NAME_BYTES} bytes")

    def to_bytes(self) -> bytes:
        writer = Writer(METADATA_TYPE_TAG, METADATA_VERSION)
        writer.fixed(self.dek, DEK_SIZE).fixed(self.file_digest, DIGEST_SIZE).u64(self.size)
        return writer.fixed(self.commitment_digest, DIGEST_SIZE).text(self.name).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> RecordMetadata:
        """Decode :meth:`to_bytes`; raises :class:`DecodeError` on anything else."""

        def body(reader: Reader) -> RecordMetadata:
            reader.expect_header(METADATA_TYPE_TAG, METADATA_VERSION)
            dek = reader.fixed(DEK_SIZE)
            digest_ = reader.fixed(DIGEST_SIZE)
            size = reader.u64()
            commitment = reader.fixed(DIGEST_SIZE)
            return cls(dek, digest_, size, commitment, reader.text(MAX_NAME_BYTES))

        return parse(data, "record metadata", body)

    def __repr__(self) -> str:
        return (
            f"RecordMetadata(dek=<hidden>, file_digest={self.file_digest.hex()[:16]}…, "
            f"size={self.size}, name={self.name!r})"
        )
