"""Edwards25519 arithmetic for the lightweight profile, on libsodium's core bindings.

Scalars are plain ints modulo the prime subgroup order ``L``; on the wire they are 32 bytes
little-endian (libsodium's own form), canonical only when below ``L``. Points are 32-byte
compressed encodings accepted only when libsodium says they lie in the prime-order subgroup and
are not of small order, so a decoded :class:`Point` is always safe to multiply.
"""

from __future__ import annotations

import secrets
from typing import Final

from nacl import bindings
from nacl.exceptions import RuntimeError as NaclRuntimeError

from crypto.errors import CryptoError, DecodeError
from crypto.hashing import digest_to_int

#: Order of the prime subgroup of edwards25519.
L: Final = 2**252 + 27742317777372353535851937790883648493
SCALAR_SIZE: Final = 32
POINT_SIZE: Final = 32
_IDENTITY: Final = bytes([1]) + bytes(31)


def scalar_to_bytes(k: int) -> bytes:
    """Encode ``k mod L`` as 32 bytes little-endian."""
    return (k % L).to_bytes(SCALAR_SIZE, "little")


def scalar_from_bytes(data: bytes) -> int:
    """Decode a canonical scalar; raise :class:`DecodeError` if not 32 bytes or not below L."""
    if len(data) != SCALAR_SIZE:
        raise DecodeError(f"edwards25519 scalar must be {SCALAR_SIZE} bytes, got {len(data)}")
    value = int.from_bytes(data, "little")
    if value >= L:
        raise DecodeError("edwards25519 scalar is not reduced modulo L")
    return value


def random_scalar() -> int:
    """A uniformly random scalar in [1, L)."""
    return 1 + secrets.randbelow(L - 1)


def hash_to_scalar(tag: bytes, *parts: bytes) -> int:
    """Domain-separated hash of length-prefixed ``parts`` to a nonzero scalar.

    A zero output has probability about 2^-252; it is mapped to 1 so that callers never multiply
    by zero (which libsodium refuses).
    """
    return digest_to_int(tag, L, *parts) or 1


class Point:
    """A point of the prime-order subgroup of edwards25519 (never the identity)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        raw = bytes(raw)
        if len(raw) != POINT_SIZE:
            raise DecodeError(f"edwards25519 point must be {POINT_SIZE} bytes, got {len(raw)}")
        if not bindings.crypto_core_ed25519_is_valid_point(raw):
            raise DecodeError("not a valid edwards25519 point of the prime-order subgroup")
        self._raw = raw

    @classmethod
    def _trusted(cls, raw: bytes) -> Point:
        # Results of libsodium arithmetic on valid points need no second validation.
        point = cls.__new__(cls)
        point._raw = raw
        return point

    @classmethod
    def from_bytes(cls, data: bytes) -> Point:
        return cls(data)

    @classmethod
    def base_mul(cls, k: int) -> Point:
        """``k * B`` for the base point ``B``; raises :class:`CryptoError` if k = 0 mod L."""
        try:
            raw = bindings.crypto_scalarmult_ed25519_base_noclamp(scalar_to_bytes(k))
        except NaclRuntimeError as exc:
            raise CryptoError("scalar multiple of the base point is the identity") from exc
        return cls._trusted(raw)

    def __mul__(self, k: int) -> Point:
        try:
            raw = bindings.crypto_scalarmult_ed25519_noclamp(scalar_to_bytes(k), self._raw)
        except NaclRuntimeError as exc:
            raise CryptoError("scalar multiple is the identity") from exc
        return Point._trusted(raw)

    __rmul__ = __mul__

    def __add__(self, other: Point) -> Point:
        raw = bindings.crypto_core_ed25519_add(self._raw, other._raw)
        return Point._checked_result(raw)

    def __sub__(self, other: Point) -> Point:
        raw = bindings.crypto_core_ed25519_sub(self._raw, other._raw)
        return Point._checked_result(raw)

    @classmethod
    def _checked_result(cls, raw: bytes) -> Point:
        # A sum of subgroup points stays in the subgroup (no second subgroup check needed), but
        # it can be the identity, which this type does not represent.
        if raw == _IDENTITY:
            raise CryptoError("point sum is the identity")
        return cls._trusted(raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and secrets.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self._raw)

    def __bytes__(self) -> bytes:
        return self._raw

    def __repr__(self) -> str:
        return f"Point({self._raw.hex()[:16]}…)"


#: The standard base point B.
BASE: Final = Point.base_mul(1)
