"""node/consensus_stats.py: fixed-bucket histograms and the counts taken at commits."""

from __future__ import annotations

from consensus.encoding import ItemKind
from consensus.item import Item
from node.consensus_stats import ConsensusStats, Histogram


def test_histogram_counts_cumulatively_with_an_overflow() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 7.0):
        histogram.observe(value)
    snapshot = histogram.snapshot()
    assert snapshot.cumulative == (2, 3)  # 7.0 is only in +Inf (the count)
    assert snapshot.count == 4
    assert abs(snapshot.total - 7.65) < 1e-9


class _Ledger:
    """The two ledger questions the stats ask outside a block: committed? and no audit."""

    def __init__(self, committed: set[bytes]) -> None:
        self.committed = committed

    def has_transaction(self, item_id: bytes) -> bool:
        return item_id in self.committed


def test_latency_is_taken_for_committed_items_and_dropped_ones_are_forgotten() -> None:
    stats = ConsensusStats()
    done = Item(ItemKind.REQUEST, b"a" * 32, b"")
    dropped = Item(ItemKind.TX, b"b" * 32, b"")
    waiting = Item(ItemKind.TX, b"c" * 32, b"")
    for item in (done, dropped, waiting):
        stats.taken(item, now=10.0)
    stats.taken(done, now=11.0)  # a second hand-over keeps the first time
    ledger = _Ledger({done.item_id})
    stats.committed([], ledger, lambda i: i == waiting.item_id, now=10.25)  # type: ignore[arg-type]
    snapshot = stats.snapshot()
    assert snapshot.decision_seconds["request"].count == 1
    assert snapshot.decision_seconds["request"].total == 0.25
    assert snapshot.decision_seconds["tx"].count == 0
    ledger.committed.add(waiting.item_id)
    stats.committed([], ledger, lambda i: False, now=12.0)  # type: ignore[arg-type]
    assert stats.snapshot().decision_seconds["tx"].count == 1
    # The dropped item was forgotten at the first settle, not counted later.
    ledger.committed.add(dropped.item_id)
    stats.committed([], ledger, lambda i: False, now=13.0)  # type: ignore[arg-type]
    assert stats.snapshot().decision_seconds["tx"].count == 1


def test_the_table_of_waiting_items_is_bounded() -> None:
    stats = ConsensusStats(max_tracked=2)
    items = [Item(ItemKind.TX, bytes([i]) * 32, b"") for i in range(3)]
    for item in items:
        stats.taken(item, now=0.0)
    ledger = _Ledger({item.item_id for item in items})
    stats.committed([], ledger, lambda i: False, now=1.0)  # type: ignore[arg-type]
    # The oldest was forgotten to make room.
    assert stats.snapshot().decision_seconds["tx"].count == 2
