"""XChaCha20-Poly1305 authenticated encryption (libsodium through PyNaCl).

The 24-byte nonce is random and travels in front of the ciphertext, so callers only hold a key.
"""

from __future__ import annotations

import secrets

from nacl import bindings
from nacl.exceptions import CryptoError as NaclCryptoError

from crypto.errors import DecryptionError

KEY_SIZE = bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
NONCE_SIZE = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
TAG_SIZE = bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
OVERHEAD = NONCE_SIZE + TAG_SIZE


def seal(key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """Encrypt and authenticate; returns ``nonce || ciphertext || tag``."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"AEAD key must be {KEY_SIZE} bytes")
    nonce = secrets.token_bytes(NONCE_SIZE)
    body = bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, associated_data, nonce, key
    )
    return nonce + body


def open_sealed(key: bytes, sealed: bytes, associated_data: bytes = b"") -> bytes:
    """Decrypt ``seal``'s output; raises :class:`DecryptionError` on any mismatch."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"AEAD key must be {KEY_SIZE} bytes")
    if len(sealed) < OVERHEAD:
        raise DecryptionError("ciphertext shorter than nonce and tag")
    nonce, body = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:]
    try:
        plain: bytes = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            body, associated_data, nonce, key
        )
    except NaclCryptoError as exc:
        raise DecryptionError("AEAD decryption failed: wrong key or altered data") from exc
    return plain
