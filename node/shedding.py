"""When a node refuses client submissions as busy: load shedding at the front door.

Past the network's capacity, a node that keeps taking requests only builds a queue. Every
request then waits longer, the blocks grow, rounds time out under the load and their work is
done again, and the network decides fewer requests per second than it did at capacity
(measured in docs/performance.md section 5: 30 offered/s left 5 committed/s and 782 of 900
requests timed out). So ``POST /tx`` is refused with 503 ``busy`` and a ``Retry-After`` while
the node's backlog shows that the network is not keeping up:

* at least ``min_items`` items (a block's worth) have each waited ``max_wait_s`` for a
  decision: a queue that is not being drained, not a burst that the next blocks will take,
  nor a few requests that cannot be decided yet (they stay until they go stale);
* or the items waiting, with the client submissions still queued for the consensus task,
  reach ``max_items``, whatever their age.

The check comes before anything else is done with a submission, so a refusal costs next to
nothing; items relayed by peers are never refused (their own node took them). The bounds
come from ``config.toml`` (``shed_min_items``, ``shed_wait_ms``, ``max_backlog``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consensus.pool import ItemPool
from node.config import ConfigError

#: A block's worth (consensus's ``max_items``).
MIN_ITEMS = 32
#: The latency the sustained-load benchmark calls acceptable at p99.
MAX_WAIT_MS = 1000
#: Undecided items (with client submissions still queued) at which submissions are refused,
#: whatever their age.
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

    def refusal(self, items: int, waited_s: float) -> str | None:
        """Why a submission is refused with ``items`` undecided (and queued) of which the
        ``min_items``-th oldest has waited ``waited_s`` (see :func:`backlog`), or None to
        take it."""
        if items >= self.max_items:
            return f"the node holds {items} undecided items, its bound; retry later"
        if items >= self.min_items and waited_s >= self.max_wait_s:
            return (
                f"the network is behind: {items} items wait for a decision, "
                f"{self.min_items} of them for {waited_s:.1f} s or more; retry later"
            )
        return None

    def check(self, backlog: tuple[int, float]) -> None:
        """Raise :class:`Busy` with :meth:`refusal`'s reason for ``backlog``, if there is one."""
        refusal = self.refusal(*backlog)
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


def backlog(pool: ItemPool, queued: int, depth: int, now: float) -> tuple[int, float]:
    """What :meth:`Shedding.check` takes: the undecided items (``pool`` and ``queued`` client
    items not in it yet) and how long the ``depth``-th oldest item in the pool has waited at
    ``now`` (0 while the pool holds fewer), in the pool's clock."""
    arrived = pool.arrival(depth)
    return len(pool) + queued, 0.0 if arrived is None else now - arrived
