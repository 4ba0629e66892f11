"""Typed errors of the lightweight (seed 001) profile."""

from __future__ import annotations

from crypto.errors import CryptoError, VerificationError


class LightError(CryptoError):
    """Base class of every refusal raised by :mod:`crypto.light`."""


class StaleMessageError(LightError):
    """A message's timestamp is older than the freshness window or too far in the future."""


class ReplayError(LightError):
    """A message was already accepted once inside the freshness window."""


class WarrantError(LightError, VerificationError):
    """A warrant is unknown, expired, wrongly signed, or the proof of holding it is forged."""


class IntegrityError(LightError, VerificationError):
    """A check value (alpha, beta, c_n, the temporary identity) does not match its message."""


class AccessDeniedError(LightError):
    """The requester is not in the patient's user set, or the patient is unknown here."""
