"""Consensus series for Prometheus, gathered where the consensus task carries out commits.

:class:`ConsensusStats` is fed by :class:`~node.consensus_loop.ConsensusLoop` (a client's item
taken, blocks committed) and read at scrape time through :meth:`snapshot`, which the HTTP
layer renders (:mod:`node.http.metrics`). It keeps plain counts and fixed-bucket histograms
rather than prometheus_client objects, so the consensus task depends on no registry and the
numbers stay per node when several nodes share a process.

Latencies are on trio's clock (the loop's clock); the block interval is the difference of the
blocks' own header times, so every node reports the same interval for the same pair of blocks,
and a node catching up does not see a burst of zero-length intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from consensus.item import Item
from consensus.messages import CommittedBlock
from crypto.errors import DecodeError
from ledger.block import BlockParts
from ledger.ledger import Ledger
from ledger.records import AuditKind

#: Upper bounds (seconds) of the decision latency buckets: submission to commit.
DECISION_BUCKETS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
#: Upper bounds (seconds) of the block interval buckets.
INTERVAL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Items taken here whose commit is still awaited; beyond this the oldest are forgotten, so a
#: flood of items that never commit cannot grow the table.
MAX_TRACKED = 8192


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """A histogram as Prometheus shows it: cumulative counts per upper bound, and the sum."""

    bounds: tuple[float, ...]
    #: Observations at or below each bound, in bound order.
    cumulative: tuple[int, ...]
    count: int
    total: float


class Histogram:
    """Counts of observations in fixed buckets."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self._counts = [0] * len(bounds)
        self._count = 0
        self._total = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self._counts[i] += 1
                break
        self._count += 1
        self._total += value

    def snapshot(self) -> HistogramSnapshot:
        running, cumulative = 0, []
        for count in self._counts:
            running += count
            cumulative.append(running)
        return HistogramSnapshot(self.bounds, tuple(cumulative), self._count, self._total)


@dataclass(frozen=True, slots=True)
class ConsensusSnapshot:
    """The consensus series at one moment (see the module docstring)."""

    #: Submission to commit of the items taken by this node, by item kind ("request", "tx").
    decision_seconds: Mapping[str, HistogramSnapshot]
    #: Access requests decided in committed blocks, by outcome ("granted", "denied").
    decisions: Mapping[str, int]
    #: Ordinary (non-request) transactions in committed blocks.
    transactions: int
    blocks: int
    #: Rounds that ended without a decision, summed over committed blocks (a block decided
    #: in round r lost r rounds first).
    rounds_lost: int
    block_interval_seconds: HistogramSnapshot


class ConsensusStats:
    """Counts commits and decision latencies of one node (see the module docstring)."""

    def __init__(self, max_tracked: int = MAX_TRACKED) -> None:
        self._max_tracked = max_tracked
        # item id -> (kind label, trio time it was taken), oldest first.
        self._taken: dict[bytes, tuple[str, float]] = {}
        self._latency = {kind: Histogram(DECISION_BUCKETS) for kind in ("request", "tx")}
        self._interval = Histogram(INTERVAL_BUCKETS)
        self._decisions = {"granted": 0, "denied": 0}
        self._transactions = 0
        self._blocks = 0
        self._rounds_lost = 0
        # (height, header time in ms) of the last block seen committed.
        self._last: tuple[int, int] | None = None

    def taken(self, item: Item, now: float) -> None:
        """A client's item was handed to consensus by this node at trio time ``now``."""
        if item.item_id in self._taken:
            return
        if len(self._taken) >= self._max_tracked:
            del self._taken[next(iter(self._taken))]
        self._taken[item.item_id] = (item.kind.name.lower(), now)

    def committed(
        self,
        commits: Iterable[CommittedBlock],
        ledger: Ledger,
        is_pending: Callable[[bytes], bool],
        now: float,
    ) -> None:
        """Count ``commits`` (already applied to ``ledger``) and settle the items taken here
        that are no longer pending: a committed one gives a decision latency, a dropped one is
        forgotten."""
        for commit in commits:
            self._count_block(commit, ledger)
        for item_id in [i for i in self._taken if not is_pending(i)]:
            kind, taken_at = self._taken.pop(item_id)
            if ledger.has_transaction(item_id):
                self._latency[kind].observe(max(0.0, now - taken_at))

    def _count_block(self, commit: CommittedBlock, ledger: Ledger) -> None:
        try:
            parts = BlockParts.from_bytes(commit.block)
        except DecodeError:
            return  # the ledger took it, so this cannot happen; a metric is no place to fail
        self._blocks += 1
        self._rounds_lost += commit.round
        self._transactions += len(parts.transactions) - len(parts.results)
        for audit in ledger.audit_by_heights(commit.height, commit.height + 1):
            if audit.kind == AuditKind.DECISION:  # not an unblacklisting
                self._decisions["granted" if audit.granted else "denied"] += 1
        previous = self._last
        if previous is None or previous[0] != commit.height - 1:
            headers = ledger.block_headers(commit.height - 1, commit.height, limit=1)
            previous = (commit.height - 1, headers[0].time_ms) if headers else None
        time_ms = parts.header.time_ms
        if previous is not None:
            self._interval.observe(max(0, time_ms - previous[1]) / 1000)
        self._last = (commit.height, time_ms)

    def snapshot(self) -> ConsensusSnapshot:
        return ConsensusSnapshot(
            decision_seconds={k: h.snapshot() for k, h in self._latency.items()},
            decisions=dict(self._decisions),
            transactions=self._transactions,
            blocks=self._blocks,
            rounds_lost=self._rounds_lost,
            block_interval_seconds=self._interval.snapshot(),
        )
