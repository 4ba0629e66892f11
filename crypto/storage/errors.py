"""Errors raised by distributed storage: bad fragments and too few of them."""

from __future__ import annotations

from crypto.errors import CryptoError, ThresholdError, VerificationError


class StorageError(CryptoError):
    """Base class of storage failures."""


class CorruptFragmentError(StorageError, VerificationError):
    """A fragment does not match its commitment. ``index`` names the fragment (1-based)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"fragment {index}: {reason}")
        self.index = index


class NotEnoughFragmentsError(StorageError, ThresholdError):
    """Fewer valid fragments than the threshold.

    ``valid`` is how many checked out, ``needed`` the threshold, and ``corrupt_indexes`` the
    fragments that were offered but failed their check (so callers can blame their holders).
    """

    def __init__(self, valid: int, needed: int, corrupt_indexes: tuple[int, ...] = ()) -> None:
        message = f"{valid} valid fragments, {needed} needed"
        if corrupt_indexes:
            message += f"; corrupt: {', '.join(map(str, corrupt_indexes))}"
        super().__init__(message)
        self.valid = valid
        self.needed = needed
        self.corrupt_indexes = corrupt_indexes
