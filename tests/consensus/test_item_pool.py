"""When the pool's items arrived, by age (what a node's load shedding reads)."""

from __future__ import annotations

from consensus.item import Item, ItemKind
from consensus.pool import ItemPool


def item(n: int, kind: ItemKind = ItemKind.REQUEST) -> Item:
    return Item(kind, bytes([n]) * 32, bytes([n]))


def test_arrivals_by_age_follow_adds_and_removals() -> None:
    pool = ItemPool()
    assert pool.arrival(1) is None
    pool.add(item(1), 5.0)
    pool.add(item(2, ItemKind.TX), 7.0)
    pool.add(item(3), 9.0)
    assert [pool.arrival(rank) for rank in (1, 2, 3, 4)] == [5.0, 7.0, 9.0, None]
    assert pool.oldest_tx_time() == 7.0
    pool.remove((item(1).item_id,))
    assert [pool.arrival(rank) for rank in (1, 2, 3)] == [7.0, 9.0, None]
    pool.add(item(1), 11.0)  # back after it left: the youngest now
    assert [pool.arrival(rank) for rank in (1, 2, 3)] == [7.0, 9.0, 11.0]
