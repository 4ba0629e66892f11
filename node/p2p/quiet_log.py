"""Warnings a peer can trigger at will, logged once per peer per burst.

A peer that repeats a refused action (gossip it may not publish, requests beyond its share)
must not be able to fill the log or the disk: the first refusal of a burst is logged, the ones
that follow within ``quiet_seconds`` are only counted, and the next logged line says how many
were left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable

#: How long after a logged refusal the same peer's refusals are only counted.
QUIET_SECONDS = 60.0


class QuietLog:
    """Logs ``warning`` lines at most once per key every ``quiet_seconds``.

    Keys are peers that passed the genesis allowlist, so the table stays as small as genesis.
    """

    def __init__(
        self,
        logger: logging.Logger,
        quiet_seconds: float = QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._quiet = quiet_seconds
        self._clock = clock
        # key -> (when its last line was logged, refusals left out since then)
        self._last: dict[Hashable, tuple[float, int]] = {}

    def warning(self, key: Hashable, message: str, *args: object) -> bool:
        """Log ``message % args`` unless ``key`` was logged less than ``quiet_seconds`` ago;
        returns whether it was logged."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self._quiet:
            self._last[key] = (last[0], last[1] + 1)
            return False
        left_out = 0 if last is None else last[1]
        self._last[key] = (now, 0)
        if left_out:
            message += " (%d similar left out since the last such line)"
            args = (*args, left_out)
        self._logger.warning(message, *args)
        return True
