"""bench e2e's phases (prepare, low load, saturation, anchor) against the fake node over HTTP.

The real benchmark runs on a testnet of node processes; this only checks its bookkeeping.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.e2e_bench import anchor, low_load, percentile, prepare, saturation
from crypto.groups import load_group
from node.devnet import create_network
from tests.cli.fake_node import FakeNode, serve


def test_phases_produce_consistent_figures(tmp_path: Path) -> None:
    group = load_group("mcl")
    network = create_network(tmp_path / "net", 3, threshold=2, base_port=34000)
    with serve(FakeNode(network, group)) as url:
        port = int(url.rsplit(":", 1)[1])
        nodes = tuple(dataclasses.replace(node, http_port=port) for node in network.nodes)
        pointed = dataclasses.replace(network, nodes=nodes)
        fixture = prepare(pointed, group, requesters=2, size=300)
        low = low_load(fixture, group, runs=3, timeout=10)
        level = saturation(fixture, group, concurrency=4, timeout=10)
    assert [len(v) for v in low.values()] == [3, 3, 3]
    assert all(d <= t for d, t in zip(low["decision"], low["decrypt"], strict=True))
    assert level["concurrent"] == 4
    assert level["requests_per_s"] > 0
    assert level["latency_p50_ms"] <= level["latency_p99_ms"]
    assert len(anchor(group, 3, 2, runs=2)) == 2


def test_percentile_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
