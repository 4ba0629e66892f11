"""Timestamp windows and the replay cache (seed 001's freshness checks, made stateful).

The seed checks only ``t* - t_i <= delta_t``, which lets an eavesdropper replay a message as
often as it likes inside the window. A :class:`ReplayCache` remembers every accepted message
until its timestamp leaves the window, after which the window check alone refuses it. Time is
always passed in by the caller (seconds since the epoch); nothing here reads a clock.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from crypto.light.errors import ReplayError, StaleMessageError


@dataclass(frozen=True, slots=True)
class FreshnessWindow:
    """How old (``max_age``) or how far ahead (``max_skew``) a timestamp may be, in seconds."""

    max_age: int = 30
    max_skew: int = 5

    def __post_init__(self) -> None:
        if self.max_age < 0 or self.max_skew < 0:
            raise ValueError("freshness bounds must not be negative")

    def check(self, timestamp: int, now: int) -> None:
        """Raise :class:`StaleMessageError` unless ``now - max_age <= timestamp <= now + skew``."""
        if timestamp < now - self.max_age:
            raise StaleMessageError(f"timestamp {timestamp} is older than {self.max_age} s")
        if timestamp > now + self.max_skew:
            raise StaleMessageError(f"timestamp {timestamp} is ahead of the clock ({now})")


class ReplayCache:
    """Accepts each message id at most once while its timestamp is inside the window."""

    __slots__ = ("_expiry", "_seen", "window")

    def __init__(self, window: FreshnessWindow | None = None) -> None:
        self.window = window or FreshnessWindow()
        self._seen: set[bytes] = set()
        self._expiry: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        return len(self._seen)

    def _forget_old(self, now: int) -> None:
        # A message whose timestamp has left the window is refused by the window check, so
        # remembering it any longer is wasted memory.
        oldest_fresh = now - self.window.max_age
        while self._expiry and self._expiry[0][0] < oldest_fresh:
            _, message_id = heapq.heappop(self._expiry)
            self._seen.discard(message_id)

    def check(self, message_id: bytes, timestamp: int, now: int) -> None:
        """Raise if the message is stale or already accepted; remember nothing."""
        self.window.check(timestamp, now)
        self._forget_old(now)
        if message_id in self._seen:
            raise ReplayError("message was already accepted")

    def accept(self, message_id: bytes, timestamp: int, now: int) -> None:
        """Check freshness and novelty, then remember ``message_id``.

        Raises :class:`StaleMessageError` or :class:`ReplayError`.
        """
        self.check(message_id, timestamp, now)
        self._seen.add(message_id)
        heapq.heappush(self._expiry, (timestamp, message_id))
