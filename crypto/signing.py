"""Ed25519 identities: node keys, member keys and the authority key."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey as _NaclSigningKey
from nacl.signing import VerifyKey as _NaclVerifyKey

from crypto.errors import DecodeError, VerificationError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32


class VerifiedSignatures:
    """(public key, signature, message) triples that verified lately, oldest dropped first.

    A node meets one signature several times: a vote when it arrives, again inside the block
    that carries it when the block is opened, and in the commit QC or the decision record when
    the block is applied. Only the first costs an Ed25519 verification (about 70 microseconds);
    the others are a dictionary look-up of the exact bytes. Only successes are kept, so a bad
    signature fails every time.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the memo needs room for at least one signature")
        self._limit = limit
        self._seen: dict[tuple[bytes, bytes, bytes], None] = {}
        # Verifications run on several threads (the ledger's signature pre-check, a full-chain
        # verify); libsodium lets go of the GIL, so two threads may add at once.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, triple: tuple[bytes, bytes, bytes]) -> bool:
        return triple in self._seen

    def add(self, triple: tuple[bytes, bytes, bytes]) -> None:
        with self._lock:
            seen = self._seen
            if len(seen) >= self._limit:
                del seen[next(iter(seen))]
            seen[triple] = None

    def clear(self) -> None:
        """Forget every signature (a benchmark that times cold verification starts here)."""
        with self._lock:
            self._seen.clear()


#: The process's memo of verified signatures (:meth:`VerifyKey.verify`).
VERIFIED = VerifiedSignatures(8192)


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """An Ed25519 public key (32 bytes)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise DecodeError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes")

    @classmethod
    def from_bytes(cls, data: bytes) -> VerifyKey:
        return cls(bytes(data))

    def __bytes__(self) -> bytes:
        return self.raw

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`VerificationError` unless ``signature`` signs ``message``; a triple
        that verified lately is not verified again (:class:`VerifiedSignatures`)."""
        if len(signature) != SIGNATURE_SIZE:
            raise VerificationError("signature has the wrong length")
        triple = (self.raw, bytes(signature), bytes(message))
        if triple in VERIFIED:
            return
        try:
            _NaclVerifyKey(self.raw).verify(message, signature)
        except (BadSignatureError, ValueError) as exc:
            raise VerificationError("Ed25519 signature does not verify") from exc
        VERIFIED.add(triple)

    def hex(self) -> str:
        return self.raw.hex()


class SigningKey:
    """An Ed25519 private key. Its repr never shows the secret."""

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise DecodeError(f"Ed25519 seed must be {SEED_SIZE} bytes")
        self._key = _NaclSigningKey(seed)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(_NaclSigningKey.generate()))

    def seed(self) -> bytes:
        """The 32-byte secret seed, for writing to a key file."""
        return bytes(self._key)

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(bytes(self._key.verify_key))

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)

    def __repr__(self) -> str:
        return f"SigningKey(public={self.verify_key.hex()[:16]}…)"
