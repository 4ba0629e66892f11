"""HKDF-SHA256 (RFC 5869) for deriving symmetric keys from group elements and shared secrets."""

from __future__ import annotations

import hashlib
import hmac

from crypto.codec import join_chunks

_HASH_LEN = 32


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\x00" * _HASH_LEN, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    if not 0 < length <= 255 * _HASH_LEN:
        raise ValueError(f"HKDF output length {length} out of range")
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def derive_key(label: bytes, *inputs: bytes, length: int = 32) -> bytes:
    """Derive ``length`` bytes from ``inputs`` under the domain ``label``.

    The inputs are length-prefixed before extraction, so the derivation is injective in them.
    """
    prk = hkdf_extract(b"iomtshare/kdf/v1", join_chunks(inputs))
    return hkdf_expand(prk, label, length)
