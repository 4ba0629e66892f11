"""Scalars of BLS12-381: plain ints modulo r with a 32-byte big-endian encoding."""

from __future__ import annotations

from crypto.errors import DecodeError
from crypto.groups.params import SCALAR_BYTES, R


def scalar_to_bytes(k: int) -> bytes:
    """The canonical 32-byte big-endian encoding of ``k mod r``."""
    return (k % R).to_bytes(SCALAR_BYTES, "big")


def scalar_from_bytes(data: bytes) -> int:
    """Decode a canonical scalar; raise :class:`DecodeError` for a wrong length or a value >= r."""
    if len(data) != SCALAR_BYTES:
        raise DecodeError(f"scalar must be {SCALAR_BYTES} bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if value >= R:
        raise DecodeError("scalar is not reduced modulo the group order")
    return value


def inv_mod(k: int, modulus: int = R) -> int:
    """The inverse of ``k`` modulo ``modulus``; raise ``ZeroDivisionError`` for zero."""
    k %= modulus
    if k == 0:
        raise ZeroDivisionError("zero has no inverse")
    return pow(k, -1, modulus)
