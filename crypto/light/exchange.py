"""Data-flow messages of the lightweight profile: uploads, access and key requests.

Type tags continue :mod:`crypto.light.messages` (0x78-0x7b). Each message knows the bytes its
check value covers and the id under which replay caches remember it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.hashing import DIGEST_SIZE, digest
from crypto.light import labels
from crypto.light.curve import POINT_SIZE, SCALAR_SIZE, Point, scalar_from_bytes, scalar_to_bytes
from crypto.light.messages import PSEUDONYM_SIZE
from crypto.light.schnorr import SchnorrProof

TAG_UPLOAD = tags.LIGHT_UPLOAD
TAG_ACCESS_REQUEST = tags.LIGHT_ACCESS_REQUEST
TAG_KEY_REQUEST = tags.LIGHT_KEY_REQUEST
TAG_KEY_RESPONSE = tags.LIGHT_KEY_RESPONSE
VERSION = 1
NONCE_SIZE = 16
#: Largest payload ciphertext accepted from a sensor.
MAX_PAYLOAD = 16 * 1024 * 1024


def new_nonce() -> bytes:
    """A fresh random request nonce."""
    return secrets.token_bytes(NONCE_SIZE)


def request_fields(
    tag: int, user: bytes, temporary_id: bytes, timestamp: int, nonce: bytes
) -> bytes:
    """Header and fields shared by access and key requests (what their proof or MAC covers)."""
    writer = Writer(tag, VERSION)
    writer.fixed(user, PSEUDONYM_SIZE).fixed(temporary_id, PSEUDONYM_SIZE)
    writer.u64(timestamp).fixed(nonce, NONCE_SIZE)
    return writer.to_bytes()


@dataclass(frozen=True, slots=True)
class Upload:
    """Sensor to edge: ``<Ptid, Y, d1, alpha, beta, M', t3>`` (seed 001 sends h(Pid) for Ptid)."""

    temporary_id: bytes
    y: Point
    d1: int
    alpha: bytes
    beta: bytes
    ciphertext: bytes
    timestamp: int

    def header_bytes(self) -> bytes:
        """The fields before the ciphertext: the AEAD's associated data."""
        writer = Writer(TAG_UPLOAD, VERSION)
        writer.fixed(self.temporary_id, PSEUDONYM_SIZE)
        writer.fixed(bytes(self.y), POINT_SIZE)
        writer.fixed(scalar_to_bytes(self.d1), SCALAR_SIZE)
        writer.u64(self.timestamp)
        return writer.to_bytes()

    def to_bytes(self) -> bytes:
        writer = Writer().raw(self.header_bytes())
        writer.fixed(self.alpha, DIGEST_SIZE).fixed(self.beta, DIGEST_SIZE)
        writer.blob(self.ciphertext)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Upload:
        def body(reader: Reader) -> Upload:
            reader.expect_header(TAG_UPLOAD, VERSION)
            ptid = reader.fixed(PSEUDONYM_SIZE)
            y = Point(reader.fixed(POINT_SIZE))
            d1 = scalar_from_bytes(reader.fixed(SCALAR_SIZE))
            timestamp = reader.u64()
            alpha, beta = reader.fixed(DIGEST_SIZE), reader.fixed(DIGEST_SIZE)
            return cls(ptid, y, d1, alpha, beta, reader.blob(MAX_PAYLOAD), timestamp)

        return parse(data, "lightweight upload", body)

    def replay_id(self) -> bytes:
        return digest(labels.REPLAY_ID, self.to_bytes())


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """User to edge: ``<Uid, Ptid, t4>`` plus a proof of holding the warrant (never the warrant)."""

    user: bytes
    temporary_id: bytes
    timestamp: int
    nonce: bytes
    proof: SchnorrProof

    def proof_message(self) -> bytes:
        """What the warrant proof signs: every other field."""
        return request_fields(
            TAG_ACCESS_REQUEST, self.user, self.temporary_id, self.timestamp, self.nonce
        )

    def to_bytes(self) -> bytes:
        writer = Writer().raw(self.proof_message())
        self.proof.write(writer)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> AccessRequest:
        def body(reader: Reader) -> AccessRequest:
            reader.expect_header(TAG_ACCESS_REQUEST, VERSION)
            user, ptid = reader.fixed(PSEUDONYM_SIZE), reader.fixed(PSEUDONYM_SIZE)
            timestamp, nonce = reader.u64(), reader.fixed(NONCE_SIZE)
            return cls(user, ptid, timestamp, nonce, SchnorrProof.read(reader))

        return parse(data, "access request", body)

    def replay_id(self) -> bytes:
        return digest(labels.REPLAY_ID, self.proof_message())


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """User to authority: ``<Uid, Ptid, t5, c_n>`` with ``c_n`` a MAC under ``sk_Uid``.

    Seed 001 sends ``b_n = Pid xor sk_Uid``, which hands the patient's real identity to every
    user; the pseudonym is enough for the authority to find ``a_n``.
    """

    user: bytes
    temporary_id: bytes
    timestamp: int
    nonce: bytes
    mac: bytes

    def mac_message(self) -> bytes:
        """What ``c_n`` authenticates: every other field."""
        return request_fields(
            TAG_KEY_REQUEST, self.user, self.temporary_id, self.timestamp, self.nonce
        )

    def to_bytes(self) -> bytes:
        return Writer().raw(self.mac_message()).fixed(self.mac, DIGEST_SIZE).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyRequest:
        def body(reader: Reader) -> KeyRequest:
            reader.expect_header(TAG_KEY_REQUEST, VERSION)
            user, ptid = reader.fixed(PSEUDONYM_SIZE), reader.fixed(PSEUDONYM_SIZE)
            timestamp, nonce = reader.u64(), reader.fixed(NONCE_SIZE)
            return cls(user, ptid, timestamp, nonce, reader.fixed(DIGEST_SIZE))

        return parse(data, "key request", body)

    def replay_id(self) -> bytes:
        return digest(labels.REPLAY_ID, self.mac_message())


@dataclass(frozen=True, slots=True)
class KeyResponse:
    """Authority to user: ``a_n`` sealed under a key derived from ``sk_Uid`` and the request."""

    temporary_id: bytes
    sealed_key: bytes

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_KEY_RESPONSE, VERSION)
        return writer.fixed(self.temporary_id, PSEUDONYM_SIZE).blob(self.sealed_key).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyResponse:
        def body(reader: Reader) -> KeyResponse:
            reader.expect_header(TAG_KEY_RESPONSE, VERSION)
            return cls(reader.fixed(PSEUDONYM_SIZE), reader.blob(1024))

        return parse(data, "key response", body)
