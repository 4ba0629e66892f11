"""Canonical binary encoding shared by every signed, hashed, stored or sent object.

The format is deliberately plain: fixed-width big-endian integers, byte strings prefixed with a
32-bit length, and sequences prefixed with a 32-bit count. Every object starts with a one-byte type
tag and a one-byte version, so an encoding can never be mistaken for another type's: each tag is
taken from :mod:`crypto.tags`, the one registry of tags, which refuses a tag two types claim.
Parsing is exact: a short read, an unknown tag or trailing bytes raise
:class:`~crypto.errors.DecodeError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from crypto.errors import DecodeError

T = TypeVar("T")

#: Upper bound on any single length prefix, so that a hostile prefix cannot make us allocate.
MAX_FIELD_BYTES = 64 * 1024 * 1024


class Writer:
    """Accumulates the canonical encoding of one object."""

    __slots__ = ("_parts",)

    def __init__(self, type_tag: int | None = None, version: int | None = None) -> None:
        self._parts: list[bytes] = []
        if type_tag is not None:
            self.u8(type_tag)
        if version is not None:
            self.u8(version)

    def u8(self, value: int) -> Writer:
        self._parts.append(struct.pack(">B", value))
        return self

    def u16(self, value: int) -> Writer:
        self._parts.append(struct.pack(">H", value))
        return self

    def u32(self, value: int) -> Writer:
        self._parts.append(struct.pack(">I", value))
        return self

    def u64(self, value: int) -> Writer:
        self._parts.append(struct.pack(">Q", value))
        return self

    def boolean(self, value: bool) -> Writer:
        return self.u8(1 if value else 0)

    def fixed(self, data: bytes, size: int) -> Writer:
        """Append exactly ``size`` bytes (no prefix)."""
        if len(data) != size:
            raise ValueError(f"expected {size} bytes, got {len(data)}")
        self._parts.append(bytes(data))
        return self

    def blob(self, data: bytes) -> Writer:
        """Append a byte string with a 32-bit length prefix."""
        self.u32(len(data))
        self._parts.append(bytes(data))
        return self

    def text(self, value: str) -> Writer:
        return self.blob(value.encode("utf-8"))

    def seq(self, items: Sequence[T], put: Callable[[Writer, T], object]) -> Writer:
        """Append a count followed by each item written by ``put``."""
        self.u32(len(items))
        for item in items:
            put(self, item)
        return self

    def raw(self, data: bytes) -> Writer:
        """Append bytes whose length the reader knows from context (e.g. a nested object)."""
        self._parts.append(bytes(data))
        return self

    def to_bytes(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Parses a canonical encoding; every method raises :class:`DecodeError` on bad input."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str = "object") -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"{what}: expected bytes, got {type(data).__name__}")
        self._data = bytes(data)
        self._pos = 0
        self._what = what

    def expect_header(self, type_tag: int, version: int) -> None:
        tag = self.u8()
        if tag != type_tag:
            raise DecodeError(f"{self._what}: type tag {tag:#04x}, expected {type_tag:#04x}")
        got = self.u8()
        if got != version:
            raise DecodeError(f"{self._what}: unsupported version {got}, expected {version}")

    def _take(self, size: int) -> bytes:
        end = self._pos + size
        if size < 0 or end > len(self._data):
            raise DecodeError(
                f"{self._what}: truncated at byte {self._pos} (needed {size}, "
                f"{len(self._data) - self._pos} left)"
            )
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def u8(self) -> int:
        return int(self._take(1)[0])

    def u16(self) -> int:
        value: int = struct.unpack(">H", self._take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack(">I", self._take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(">Q", self._take(8))[0]
        return value

    def boolean(self) -> bool:
        value = self.u8()
        if value not in (0, 1):
            raise DecodeError(f"{self._what}: boolean byte {value} is not 0 or 1")
        return value == 1

    def fixed(self, size: int) -> bytes:
        return self._take(size)

    def blob(self, max_size: int = MAX_FIELD_BYTES) -> bytes:
        size = self.u32()
        if size > max_size:
            raise DecodeError(f"{self._what}: field of {size} bytes exceeds limit {max_size}")
        return self._take(size)

    def text(self, max_size: int = 4096) -> str:
        raw = self.blob(max_size)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{self._what}: text field is not UTF-8") from exc

    def seq(self, get: Callable[[Reader], T], max_items: int = 1 << 20) -> list[T]:
        count = self.u32()
        if count > max_items:
            raise DecodeError(f"{self._what}: {count} items exceeds limit {max_items}")
        return [get(self) for _ in range(count)]

    def rest(self) -> bytes:
        return self._take(len(self._data) - self._pos)

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def finish(self) -> None:
        """Insist that every byte was consumed."""
        if self._pos != len(self._data):
            raise DecodeError(
                f"{self._what}: {len(self._data) - self._pos} trailing bytes after the encoding"
            )


def parse(data: bytes, what: str, body: Callable[[Reader], T]) -> T:
    """Run ``body`` over ``data`` and insist the whole input was consumed.

    Any :class:`DecodeError` raised by ``body`` propagates; so does anything ``body`` raises
    deliberately. Nothing else is caught here, so a bug in ``body`` stays visible.
    """
    reader = Reader(data, what)
    value = body(reader)
    reader.finish()
    return value


def join_chunks(chunks: Iterable[bytes]) -> bytes:
    """Length-prefix and concatenate ``chunks`` (the form every hash input takes)."""
    return b"".join(struct.pack(">I", len(c)) + c for c in chunks)
