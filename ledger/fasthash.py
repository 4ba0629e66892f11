"""Byte-identical fast paths of :func:`crypto.hashing.digest` for the ledger's hottest hashes.

``digest(tag, *parts)`` is SHA-256 over ``u32(len(tag)) || tag || u32(len(part)) || part ...``.
Checking a block of 100 transactions takes about 300 such hashes (the transaction ids, then
the leaves and inner nodes of the transaction Merkle tree), and through the generic helper most
of that time went to Python call overhead rather than to SHA-256. Here the length-prefixed tag
is built once per tag, and each hash is one ``hashlib.sha256`` call over one buffer.

The output is the same by construction, and ``tests/ledger/test_fasthash.py`` checks it
against :func:`~crypto.hashing.digest` on arbitrary tags and parts.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

_U32 = struct.Struct(">I").pack
_sha256 = hashlib.sha256


def length_prefixed(part: bytes) -> bytes:
    """``part`` preceded by its 32-bit big-endian length (how ``digest`` frames every input)."""
    return _U32(len(part)) + part


class OnePartDigest:
    """``digest(tag, part)`` for one fixed ``tag``; calls take the part's bytes.

    Raises :class:`ValueError` for an empty tag, as :func:`~crypto.hashing.digest` does.
    """

    __slots__ = ("_prefix",)

    def __init__(self, tag: bytes) -> None:
        if not tag:
            raise ValueError("a hash tag must not be empty")
        self._prefix = length_prefixed(bytes(tag))

    def __call__(self, part: bytes) -> bytes:
        return _sha256(self._prefix + _U32(len(part)) + part).digest()

    def each(self, parts: Iterable[bytes]) -> list[bytes]:
        """``[self(part) for part in parts]`` without a Python call per part."""
        prefix, u32, sha256 = self._prefix, _U32, _sha256
        return [sha256(prefix + u32(len(part)) + part).digest() for part in parts]


class TwoHashDigest:
    """``digest(tag, left, right)`` for one fixed ``tag`` and two 32-byte parts.

    Both framings are constants then, so the hash input is ``prefix || left || 32 || right``.
    The caller guarantees the sizes (the parts are themselves SHA-256 digests).
    """

    __slots__ = ("_prefix",)

    #: The length prefix of a 32-byte part.
    FRAME = _U32(32)

    def __init__(self, tag: bytes) -> None:
        if not tag:
            raise ValueError("a hash tag must not be empty")
        self._prefix = length_prefixed(bytes(tag)) + self.FRAME

    def pairs(self, level: list[bytes]) -> list[bytes]:
        """The hashes of ``level``'s neighbours ``(0, 1), (2, 3), ...``; an odd last item is
        left out. Every item must be 32 bytes long."""
        prefix, frame, sha256 = self._prefix, self.FRAME, _sha256
        # zip over one iterator twice pairs neighbours.
        items = iter(level)
        return [
            sha256(prefix + left + frame + right).digest()
            for left, right in zip(items, items, strict=False)
        ]
