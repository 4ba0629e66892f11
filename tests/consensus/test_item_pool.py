"""The pool's view of how long its items have waited (what a node's load shedding reads)."""

from __future__ import annotations

from consensus.item import Item, ItemKind
from consensus.pool import ItemPool


def item(n: int, kind: ItemKind = ItemKind.REQUEST) -> Item:
    return Item(kind, bytes([n]) * 32, bytes([n]))


def test_the_oldest_arrival_is_that_of_the_item_waiting_longest() -> None:
    pool = ItemPool()
    assert pool.oldest_time() is None
    pool.add(item(1), 5.0)
    pool.add(item(2, ItemKind.TX), 7.0)
    pool.add(item(3), 9.0)
    assert pool.oldest_time() == 5.0
    assert pool.oldest_tx_time() == 7.0
    pool.remove((item(1).item_id,))
    assert pool.oldest_time() == 7.0
    pool.remove((item(2).item_id, item(3).item_id))
    assert pool.oldest_time() is None
