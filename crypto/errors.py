"""The typed errors raised by the crypto package.

Every failure that input from a peer or a user can cause is one of these; nothing else escapes
from decoding or verification.
"""


class CryptoError(Exception):
    """Base class of every error raised by :mod:`crypto`."""


class DecodeError(CryptoError, ValueError):
    """Bytes that are not the canonical encoding of the expected object.

    Raised for a wrong length, a wrong version or type tag, a non-canonical field element,
    a point off the curve or outside the prime-order subgroup, and trailing bytes.
    """


class VerificationError(CryptoError):
    """A signature, proof, commitment or key check did not hold."""


class DecryptionError(CryptoError):
    """Authenticated decryption failed: wrong key, or the ciphertext was altered."""


class ThresholdError(CryptoError):
    """Too few shares, duplicate share indexes, or shares that belong to different requests."""
