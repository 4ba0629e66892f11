"""Typed errors of the CP-ABE package."""

from __future__ import annotations

from crypto.errors import CryptoError


class AbeError(CryptoError):
    """Base class of every error raised by :mod:`crypto.abe`."""


class UnsatisfiedPolicyError(AbeError):
    """The key's attributes do not satisfy the ciphertext's policy."""
