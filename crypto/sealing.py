"""X25519 sealed boxes: anonymous public-key encryption of re-key shares to one node."""

from __future__ import annotations

from dataclasses import dataclass

from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from crypto.errors import DecodeError, DecryptionError

BOX_KEY_SIZE = 32
SEAL_OVERHEAD = 48  # ephemeral public key + Poly1305 tag


@dataclass(frozen=True, slots=True)
class BoxPublicKey:
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != BOX_KEY_SIZE:
            raise DecodeError(f"X25519 public key must be {BOX_KEY_SIZE} bytes")

    def __bytes__(self) -> bytes:
        return self.raw

    def seal(self, plaintext: bytes) -> bytes:
        return bytes(SealedBox(PublicKey(self.raw)).encrypt(plaintext))


class BoxSecretKey:
    """An X25519 private key. Its repr never shows the secret."""

    __slots__ = ("_key",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != BOX_KEY_SIZE:
            raise DecodeError(f"X25519 secret key must be {BOX_KEY_SIZE} bytes")
        self._key = PrivateKey(raw)

    @classmethod
    def generate(cls) -> BoxSecretKey:
        return cls(bytes(PrivateKey.generate()))

    def secret_bytes(self) -> bytes:
        return bytes(self._key)

    @property
    def public_key(self) -> BoxPublicKey:
        return BoxPublicKey(bytes(self._key.public_key))

    def unseal(self, sealed: bytes) -> bytes:
        try:
            return bytes(SealedBox(self._key).decrypt(sealed))
        except NaclCryptoError as exc:
            raise DecryptionError("sealed box does not open with this key") from exc

    def __repr__(self) -> str:
        return f"BoxSecretKey(public={self.public_key.raw.hex()[:16]}…)"
