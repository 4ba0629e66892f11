"""Message signing behind a small interface, so tests can swap Ed25519 for a cheap stand-in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from crypto.errors import VerificationError
from crypto.signing import SigningKey, VerifyKey


class Signer(Protocol):
    """Signs on behalf of one validator."""

    def sign(self, message: bytes) -> bytes: ...


class Verifier(Protocol):
    """Checks a validator's signature."""

    def verify(self, signer: int, message: bytes, signature: bytes) -> bool: ...


class Ed25519Signer:
    """A validator's Ed25519 node key."""

    __slots__ = ("_key",)

    def __init__(self, key: SigningKey) -> None:
        self._key = key

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"Ed25519Signer({self._key!r})"


class Ed25519Verifier:
    """Checks signatures against the genesis validator keys (index ``i`` is ``keys[i-1]``)."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[VerifyKey]) -> None:
        self._keys = tuple(keys)

    def verify(self, signer: int, message: bytes, signature: bytes) -> bool:
        if not 1 <= signer <= len(self._keys):
            return False
        try:
            self._keys[signer - 1].verify(message, signature)
        except VerificationError:
            return False
        return True
