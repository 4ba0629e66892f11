"""Domain-separated hashing, the only way the project hashes anything.

``digest(tag, *parts)`` is SHA-256 over the length-prefixed tag followed by each length-prefixed
part, so no two different (tag, parts) inputs share a preimage and no bare string concatenation
ever reaches the hash. Tags are ASCII names such as ``b"iomtshare/tpre/share-proof/v1"``.
"""

from __future__ import annotations

import hashlib
import struct

_LENGTH = struct.Struct(">I")

DIGEST_SIZE = 32


def digest(tag: bytes, *parts: bytes) -> bytes:
    """SHA-256 of the length-prefixed ``tag`` and ``parts``."""
    if not tag:
        raise ValueError("a hash tag must not be empty")
    # Same bytes as hashing crypto.codec.join_chunks((tag, *parts)), without building them.
    h = hashlib.sha256(_LENGTH.pack(len(tag)))
    h.update(tag)
    for part in parts:
        h.update(_LENGTH.pack(len(part)))
        h.update(part)
    return h.digest()


def digest_to_int(tag: bytes, modulus: int, *parts: bytes) -> int:
    """Hash to an integer modulo ``modulus`` with negligible bias.

    Expands to 64 bytes (two SHA-256 blocks under derived tags) before reducing, so the bias
    is at most 2^-256 for moduli up to 256 bits.
    """
    wide = digest(tag + b"/0", *parts) + digest(tag + b"/1", *parts)
    return int.from_bytes(wide, "big") % modulus
