"""KEM-DEM around FAME: a payload of any length sealed under a policy.

The FAME secret (an element of GT) never encrypts anything itself; HKDF turns it, together with
a digest of the exact ciphertext header, into an XChaCha20-Poly1305 key. A header altered in
transit therefore yields a different key and the AEAD refuses the body. Type tag 0x84.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import aead, tags
from crypto.abe.ciphertext import FameCiphertext
from crypto.abe.fame import decapsulate, encapsulate
from crypto.abe.keys import FamePublicKey, FameSecretKey
from crypto.abe.terms import AttributeTermCache
from crypto.codec import Reader, Writer, parse
from crypto.groups import Group, GTElement
from crypto.hashing import digest
from crypto.kdf import derive_key
from crypto.policy import Policy

TAG_ENVELOPE = tags.ABE_ENVELOPE
VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)
KEY_LABEL = b"iomtshare/abe/envelope-key/v1"
HEADER_TAG = b"iomtshare/abe/header/v1"


def secret_key_bytes(secret: GTElement, header: FameCiphertext, label: bytes) -> bytes:
    """A 32-byte key from a FAME secret, bound to the header it came with and to ``label``."""
    return derive_key(label, bytes(secret), digest(HEADER_TAG, header.to_bytes()))


@dataclass(frozen=True, slots=True)
class FameEnvelope:
    """A FAME header and the AEAD body it unlocks."""

    header: FameCiphertext
    body: bytes

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_ENVELOPE, VERSION).blob(self.header.to_bytes())
        return writer.blob(self.body).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes, group: Group) -> FameEnvelope:
        def body(reader: Reader) -> FameEnvelope:
            reader.expect_header(TAG_ENVELOPE, VERSION)
            header = FameCiphertext.from_bytes(reader.blob(), group)
            return cls(header, reader.blob())

        return parse(data, "FAME envelope", body)


def seal(
    public: FamePublicKey,
    policy: Policy,
    payload: bytes,
    associated_data: bytes = b"",
    cache: AttributeTermCache | None = None,
) -> FameEnvelope:
    """Encrypt ``payload`` so that only keys satisfying ``policy`` open it."""
    secret, header = encapsulate(public, policy, cache)
    key = secret_key_bytes(secret, header, KEY_LABEL)
    return FameEnvelope(header, aead.seal(key, payload, associated_data))


def open_envelope(
    public: FamePublicKey, key: FameSecretKey, envelope: FameEnvelope, associated_data: bytes = b""
) -> bytes:
    """Decrypt an envelope.

    Raises :class:`~crypto.abe.errors.UnsatisfiedPolicyError` if the key's attributes do not
    satisfy the policy and :class:`~crypto.errors.DecryptionError` if anything was altered or
    the key is not a genuine key for those attributes (e.g. pieced together from two users).
    """
    secret = decapsulate(public, key, envelope.header)
    sealing_key = secret_key_bytes(secret, envelope.header, KEY_LABEL)
    return aead.open_sealed(sealing_key, envelope.body, associated_data)
