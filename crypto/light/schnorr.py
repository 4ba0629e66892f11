"""Schnorr proofs of knowing a discrete log on edwards25519.

Seed 001 has the user send its warrant ``warr`` in the clear, so anyone who sees one request
can make new ones. Here the user proves knowledge of ``warr`` for the public point
``W = warr B = b1 + b2 h(Uid || t1)`` over the request it signs; the warrant never travels.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from crypto.codec import Reader, Writer
from crypto.errors import CryptoError
from crypto.light import labels
from crypto.light.curve import (
    POINT_SIZE,
    SCALAR_SIZE,
    L,
    Point,
    hash_to_scalar,
    scalar_from_bytes,
    scalar_to_bytes,
)
from crypto.light.errors import WarrantError

PROOF_SIZE = POINT_SIZE + SCALAR_SIZE


@dataclass(frozen=True, slots=True)
class SchnorrProof:
    """Commitment ``R`` and response ``s`` (64 bytes on the wire)."""

    commitment: Point
    response: int

    def write(self, writer: Writer) -> None:
        writer.fixed(bytes(self.commitment), POINT_SIZE)
        writer.fixed(scalar_to_bytes(self.response), SCALAR_SIZE)

    @classmethod
    def read(cls, reader: Reader) -> SchnorrProof:
        return cls(Point(reader.fixed(POINT_SIZE)), scalar_from_bytes(reader.fixed(SCALAR_SIZE)))


def _challenge(public: Point, commitment: Point, message: bytes) -> int:
    return hash_to_scalar(labels.SCHNORR, bytes(public), bytes(commitment), message)


def prove(secret: int, message: bytes) -> SchnorrProof:
    """Prove knowledge of ``secret`` (for ``secret * B``) bound to ``message``."""
    public = Point.base_mul(secret)
    # Hedged nonce: fresh randomness mixed with the secret and message, so neither a weak RNG
    # nor a repeated message alone can repeat a nonce.
    nonce = hash_to_scalar(
        labels.SCHNORR_NONCE, scalar_to_bytes(secret), message, secrets.token_bytes(32)
    )
    commitment = Point.base_mul(nonce)
    response = (nonce + _challenge(public, commitment, message) * secret) % L
    return SchnorrProof(commitment, response)


def verify(public: Point, message: bytes, proof: SchnorrProof) -> None:
    """Raise :class:`WarrantError` unless ``proof`` proves knowledge of log_B ``public``."""
    challenge = _challenge(public, proof.commitment, message)
    try:
        holds = Point.base_mul(proof.response) == proof.commitment + public * challenge
    except CryptoError:
        # A zero response or a commitment that cancels the public point: never honest.
        holds = False
    if not holds:
        raise WarrantError("proof of holding the warrant does not verify")
