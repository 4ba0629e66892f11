"""Position-based readers of the canonical encoding, for decoding stored ledger objects quickly.

Each reader takes ``(data, pos)`` and returns ``(value, new_pos)``, raising
:class:`~crypto.errors.DecodeError` exactly where :class:`crypto.codec.Reader` would (truncation,
a length or count over its limit, a boolean byte other than 0 or 1, text that is not UTF-8). They
accept the same encodings as ``Reader`` and produce the same values; they exist because decoding
a stored block (hundreds of fields) through ``Reader``'s per-field method calls dominated block
queries. ``tests/ledger/test_fastread.py`` checks both readers agree, byte strings good and bad.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TypeVar

from crypto.codec import MAX_FIELD_BYTES
from crypto.errors import DecodeError

T = TypeVar("T")

#: ``(data, pos) -> (value, new_pos)``.
FastRead = Callable[[bytes, int], tuple[T, int]]

#: The limits ``Reader`` applies to text fields and to sequence counts.
MAX_TEXT_BYTES = 4096
MAX_ITEMS = 1 << 20

_U32 = struct.Struct(">I").unpack_from


def truncated(data: bytes, pos: int, size: int) -> DecodeError:
    return DecodeError(f"truncated at byte {pos} (needed {size}, {len(data) - pos} left)")


def uint(size: int) -> FastRead[int]:
    """A big-endian unsigned integer of ``size`` bytes (1, 2, 4 or 8)."""
    unpack = struct.Struct(">" + {1: "B", 2: "H", 4: "I", 8: "Q"}[size]).unpack_from

    def read(data: bytes, pos: int) -> tuple[int, int]:
        end = pos + size
        if end > len(data):
            raise truncated(data, pos, size)
        value: int = unpack(data, pos)[0]
        return value, end

    return read


def fixed(size: int) -> FastRead[bytes]:
    """Exactly ``size`` bytes."""

    def read(data: bytes, pos: int) -> tuple[bytes, int]:
        end = pos + size
        if end > len(data):
            raise truncated(data, pos, size)
        return data[pos:end], end

    return read


def blob(data: bytes, pos: int, max_size: int = MAX_FIELD_BYTES) -> tuple[bytes, int]:
    """A byte string with a 32-bit length prefix."""
    if pos + 4 > len(data):
        raise truncated(data, pos, 4)
    size: int = _U32(data, pos)[0]
    if size > max_size:
        raise DecodeError(f"field of {size} bytes exceeds limit {max_size}")
    start = pos + 4
    end = start + size
    if end > len(data):
        raise truncated(data, start, size)
    return data[start:end], end


def text(data: bytes, pos: int) -> tuple[str, int]:
    """UTF-8 text of at most 4096 bytes."""
    raw, end = blob(data, pos, MAX_TEXT_BYTES)
    try:
        return raw.decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise DecodeError("text field is not UTF-8") from exc


def boolean(data: bytes, pos: int) -> tuple[bool, int]:
    """One byte, 0 or 1."""
    if pos >= len(data):
        raise truncated(data, pos, 1)
    value = data[pos]
    if value > 1:
        raise DecodeError(f"boolean byte {value} is not 0 or 1")
    return value == 1, pos + 1


def blobs(data: bytes, pos: int) -> tuple[tuple[bytes, ...], int]:
    """``sequence(blob)`` in one loop: a 32-bit count, then that many length-prefixed byte
    strings (a block's transactions and results are split this way)."""
    size_of_data = len(data)
    if pos + 4 > size_of_data:
        raise truncated(data, pos, 4)
    count: int = _U32(data, pos)[0]
    if count > MAX_ITEMS:
        raise DecodeError(f"{count} items exceeds limit {MAX_ITEMS}")
    pos += 4
    out: list[bytes] = []
    append = out.append
    for _ in range(count):
        if pos + 4 > size_of_data:
            raise truncated(data, pos, 4)
        size: int = _U32(data, pos)[0]
        if size > MAX_FIELD_BYTES:
            raise DecodeError(f"field of {size} bytes exceeds limit {MAX_FIELD_BYTES}")
        start = pos + 4
        pos = start + size
        if pos > size_of_data:
            raise truncated(data, start, size)
        append(data[start:pos])
    return tuple(out), pos


def sequence(item: FastRead[T]) -> FastRead[tuple[T, ...]]:
    """A 32-bit count followed by that many items."""

    def read(data: bytes, pos: int) -> tuple[tuple[T, ...], int]:
        if pos + 4 > len(data):
            raise truncated(data, pos, 4)
        count: int = _U32(data, pos)[0]
        if count > MAX_ITEMS:
            raise DecodeError(f"{count} items exceeds limit {MAX_ITEMS}")
        pos += 4
        out = []
        for _ in range(count):
            value, pos = item(data, pos)
            out.append(value)
        return tuple(out), pos

    return read


def optional(item: FastRead[T]) -> FastRead[T | None]:
    """A presence byte, then the item when present."""

    def read(data: bytes, pos: int) -> tuple[T | None, int]:
        present, pos = boolean(data, pos)
        if not present:
            return None, pos
        return item(data, pos)

    return read


def embedded(decode: Callable[[bytes], T]) -> FastRead[T]:
    """A length-prefixed encoding of another object, decoded by ``decode``."""

    def read(data: bytes, pos: int) -> tuple[T, int]:
        raw, end = blob(data, pos)
        return decode(raw), end

    return read
