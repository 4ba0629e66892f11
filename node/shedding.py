"""When a node refuses client submissions as busy: load shedding at the front door.

Past the network's capacity, a node that keeps taking requests only builds a queue. Every
request then waits longer, the blocks grow, rounds time out under the load and their work is
done again, and the network decides fewer requests per second than it did at capacity
(measured in docs/performance.md section 5: 30 offered/s left 5 committed/s and 782 of 900
requests timed out). So ``POST /tx`` is refused with 503 ``busy`` and a ``Retry-After`` while
the node's backlog shows that the network is not keeping up:

* the items waiting for a decision are at least ``min_items`` (a block's worth) and the oldest
  has waited ``max_wait_s``: a queue that is growing, not a burst that the next blocks will
  take, nor one request stuck through a round change;
* or the items waiting, with the client submissions still queued for the consensus task,
  reach ``max_items``, whatever their age.

The check comes before anything else is done with a submission, so a refusal costs next to
nothing; items relayed by peers are never refused (their own node took them). Both bounds
come from ``config.toml`` (``shed_min_items``, ``shed_wait_ms``, ``max_backlog``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from node.config import ConfigError

#: A block's worth (consensus's ``max_items``).
MIN_ITEMS = 32
#: The latency the sustained-load benchmark calls acceptable at p99.
MAX_WAIT_MS = 1000
#: Undecided items a node holds at most from clients, whatever their age.
MAX_ITEMS = 512


class Busy(Exception):
    """Client submissions are refused for now; the message says why."""


@dataclass(frozen=True, slots=True)
class Shedding:
    """The bounds above; ``ValueError`` unless each is positive."""

    min_items: int = MIN_ITEMS
    max_wait_s: float = MAX_WAIT_MS / 1000
    max_items: int = MAX_ITEMS

    def __post_init__(self) -> None:
        if self.min_items < 1 or self.max_wait_s <= 0 or self.max_items < 1:
            raise ValueError("shedding bounds must be positive")

    def refusal(self, items: int, oldest_wait_s: float) -> str | None:
        """Why a submission is refused with ``items`` undecided (and queued) whose oldest
        has waited ``oldest_wait_s``, or None to take it."""
        if items >= self.max_items:
            return f"the node holds {items} undecided items, its bound; retry later"
        if items >= self.min_items and oldest_wait_s >= self.max_wait_s:
            return (
                f"the network is behind: {items} items wait for a decision, the oldest for "
                f"{oldest_wait_s:.1f} s; retry later"
            )
        return None

    def check(self, items: int, oldest_wait_s: float) -> None:
        """Raise :class:`Busy` with :meth:`refusal`'s reason, if there is one."""
        refusal = self.refusal(items, oldest_wait_s)
        if refusal is not None:
            raise Busy(refusal)

    @classmethod
    def from_config(cls, extra: Mapping[str, Any]) -> Shedding:
        """The bounds ``config.toml`` sets (each optional); :class:`ConfigError` if one is not a
        positive integer."""
        values = {}
        for key, default in (
            ("shed_min_items", MIN_ITEMS),
            ("shed_wait_ms", MAX_WAIT_MS),
            ("max_backlog", MAX_ITEMS),
        ):
            value = extra.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"config.toml: {key} must be a positive integer")
            values[key] = value
        return cls(values["shed_min_items"], values["shed_wait_ms"] / 1000, values["max_backlog"])
