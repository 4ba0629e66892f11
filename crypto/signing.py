"""Ed25519 identities: node keys, member keys and the authority key."""

from __future__ import annotations

from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey as _NaclSigningKey
from nacl.signing import VerifyKey as _NaclVerifyKey

from crypto.errors import DecodeError, VerificationError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32


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
        """Raise :class:`VerificationError` unless ``signature`` signs ``message``."""
        if len(signature) != SIGNATURE_SIZE:
            raise VerificationError("signature has the wrong length")
        try:
            _NaclVerifyKey(self.raw).verify(message, signature)
        except (BadSignatureError, ValueError) as exc:
            raise VerificationError("Ed25519 signature does not verify") from exc

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
