"""Per-peer token buckets: how often a peer may ask for something that costs this node work.

A peer gets ``burst`` requests at once, then ``rate`` a second; unused allowance builds up to
``burst`` again. Time is whatever clock the caller passes (trio time in the node, plain numbers
in tests), so the buckets hold no clock of their own.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class TokenBuckets(Generic[K]):
    """One bucket per key, each holding at most ``burst`` tokens, refilled at ``rate`` a
    second. Keys should come from a bounded set (genesis peers), since buckets are kept."""

    def __init__(self, burst: int, rate: float) -> None:
        if burst < 1 or rate <= 0:
            raise ValueError("a token bucket needs a burst of at least 1 and a positive rate")
        self._burst = float(burst)
        self._rate = rate
        # Per key: tokens left and when they were counted.
        self._buckets: dict[K, tuple[float, float]] = {}

    def take(self, key: K, now: float) -> bool:
        """Spend one of ``key``'s tokens at ``now``; False (nothing spent) if it has none."""
        tokens, counted = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + max(0.0, now - counted) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return True
        self._buckets[key] = (tokens, now)
        return False

    def forget(self, key: K) -> None:
        """Drop ``key``'s bucket (it starts full if the key comes back)."""
        self._buckets.pop(key, None)
