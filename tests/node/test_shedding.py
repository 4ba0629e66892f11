"""When a node refuses client submissions as busy (node.shedding)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.item import Item, ItemKind
from consensus.pool import ItemPool
from node.config import ConfigError
from node.home import load_identity
from node.shedding import MAX_ITEMS, MAX_WAIT_MS, MIN_ITEMS, Busy, Shedding, backlog
from testnet.layout import create_network


def test_a_burst_is_taken_while_it_is_fresh() -> None:
    shedding = Shedding(min_items=32, max_wait_s=1.0, max_items=512)
    assert shedding.refusal(0, 0.0) is None
    assert shedding.refusal(400, 0.5) is None  # many, but the next blocks will take them


def test_one_item_stuck_through_a_round_change_refuses_nothing() -> None:
    shedding = Shedding(min_items=32, max_wait_s=1.0, max_items=512)
    assert shedding.refusal(2, 30.0) is None


def _pool(arrivals: list[float]) -> ItemPool:
    pool = ItemPool()
    for n, at in enumerate(arrivals):
        pool.add(Item(ItemKind.REQUEST, n.to_bytes(32, "big"), b"x"), at)
    return pool


def test_the_backlog_counts_queued_items_and_ages_the_one_as_deep_as_asked() -> None:
    pool = _pool([1.0, 2.0, 3.0, 4.0])
    assert backlog(pool, 5, 3, now=10.0) == (9, 7.0)  # the third oldest came at 3.0
    assert backlog(pool, 0, 5, now=10.0) == (4, 0.0)  # fewer than 5: nobody has waited
    assert backlog(ItemPool(), 2, 1, now=10.0) == (2, 0.0)


def test_requests_stuck_for_minutes_do_not_refuse_a_fresh_burst_behind_them() -> None:
    shedding = Shedding(min_items=32, max_wait_s=1.0, max_items=512)
    stuck = [0.0, 0.0]  # e.g. requests that cannot get their approvals until they go stale
    burst = [299.8] * 40
    shedding.check(backlog(_pool(stuck + burst), 0, shedding.min_items, now=300.0))
    with pytest.raises(Busy, match="behind"):  # but a burst that is not drained is
        shedding.check(backlog(_pool(stuck + burst), 0, shedding.min_items, now=301.0))


def test_a_queue_that_is_not_drained_refuses() -> None:
    shedding = Shedding(min_items=32, max_wait_s=1.0, max_items=512)
    refusal = shedding.refusal(32, 1.0)
    assert refusal is not None
    assert "32 items" in refusal
    assert "1.0 s" in refusal


def test_the_hard_bound_refuses_whatever_the_age() -> None:
    shedding = Shedding(min_items=32, max_wait_s=1.0, max_items=512)
    assert shedding.refusal(511, 0.0) is None
    refusal = shedding.refusal(512, 0.0)
    assert refusal is not None
    assert "512" in refusal


def test_config_sets_the_bounds_and_defaults_the_rest() -> None:
    assert Shedding.from_config({}) == Shedding(MIN_ITEMS, MAX_WAIT_MS / 1000, MAX_ITEMS)
    shedding = Shedding.from_config({"max_backlog": 1, "shed_wait_ms": 250, "shed_min_items": 4})
    assert shedding == Shedding(min_items=4, max_wait_s=0.25, max_items=1)


@pytest.mark.parametrize("key", ["max_backlog", "shed_wait_ms", "shed_min_items"])
@pytest.mark.parametrize("value", [0, -3, 1.5, "64", True])
def test_config_refuses_what_is_not_a_positive_integer(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        Shedding.from_config({key: value})


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Shedding(min_items=0)


def test_a_node_home_with_a_bad_bound_does_not_load(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 4)
    home = network.directory / network.nodes[0].home
    config = home / "config.toml"
    original = config.read_text()
    config.write_text(original + "shed_min_items = 8\nshed_wait_ms = 250\n")
    assert load_identity(home).shedding == Shedding(8, 0.25, MAX_ITEMS)
    config.write_text(original + "shed_wait_ms = 0\n")
    with pytest.raises(ConfigError, match="shed_wait_ms must be a positive integer"):
        load_identity(home)
