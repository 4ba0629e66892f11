"""``bench disk``'s measuring parts on a LevelDB ledger built in process (the testnet run
itself is exercised by running the command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import disk_bench
from bench.report import BenchError
from ledger import disk_usage
from ledger.errors import StoreError
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import MemberRole


def _chain(path: Path, requests: int) -> tuple[ChainFixture, int]:
    """A ledger at ``path`` with ``requests`` granted requests above the returned height."""
    fx = ChainFixture(nodes=4)
    ledger = Ledger.open(path, fx.genesis)
    try:
        fx.commit(ledger, [fx.register("alice"), fx.register("bob", role=MemberRole.REQUESTER),
                           fx.publish_key("alice"), fx.publish_key("bob")])
        fx.commit(ledger, [fx.put_record("alice", "r1", access_limit=100),
                           fx.grant("alice", "r1", "bob")])
        baseline = ledger.height
        for i in range(requests):
            request = fx.request("bob", "r1", at_ms=fx.time_at(ledger.height + 1) - 1 + i)
            fx.commit(ledger, [request], [fx.result(request, granted=True)])
    finally:
        ledger.close()
    return fx, baseline


def test_breakdown_accounts_for_every_block_byte(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    fx, baseline = _chain(path, 3)
    found = disk_bench.breakdown(path, baseline)
    counts, parts = found["counts"], found["block_parts"]
    assert counts["blocks"] == 3
    assert counts["granted"] == 3
    assert counts["votes"] == 3 * fx.genesis.quorum
    ledger = Ledger.open(path, fx.genesis)
    try:
        blocks = [ledger.block(h) for h in range(baseline + 1, ledger.height + 1)]
        total = sum(len(b.block.to_bytes()) for b in blocks if b is not None)
        shares = sum(
            len(v.share) for b in blocks if b is not None
            for r in b.block.results for v in r.votes
        )
    finally:
        ledger.close()
    assert sum(parts.values()) == total
    assert parts["vote shares (with proofs)"] == shares
    assert parts["vote signatures"] == 64 * counts["votes"]
    assert found["namespaces"]["blocks"] > total  # also the blocks below the baseline
    assert found["namespaces"]["audit chain"] > 0


def test_compaction_keeps_the_data_and_payload_divides_by_granted(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    fx, baseline = _chain(path, 2)
    size = disk_usage.compact(path)
    assert size > 0
    found = disk_bench.breakdown(path, baseline)
    assert found["counts"]["granted"] == 2  # still readable after compaction
    found["baseline_logical_bytes"] = sum(found["namespaces"].values()) - 2 * 4000
    network = type("N", (), {"genesis": fx.genesis})()
    payload = disk_bench._payload(
        network, 2, 1, 1.0, {1: 1000}, {1: 5000}, {1: 3000}, {1: found}
    )
    assert payload["ledger_bytes_per_granted_request"] == (3000 - 1000) / 2
    assert payload["ledger_raw_bytes_per_granted_request"] == (5000 - 1000) / 2
    assert payload["ledger_logical_bytes_per_granted_request"] == 4000
    assert "ledger_bytes_per_granted_request: 1000" in disk_bench._tables(payload)


def test_nothing_granted_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    fx, baseline = _chain(path, 0)
    found = {**disk_bench.breakdown(path, baseline), "baseline_logical_bytes": 0}
    network = type("N", (), {"genesis": fx.genesis})()
    with pytest.raises(BenchError, match="no request was granted"):
        disk_bench._payload(network, 0, 1, 1.0, {1: 1}, {1: 1}, {1: 1}, {1: found})


def test_namespace_names_and_a_missing_database(tmp_path: Path) -> None:
    assert disk_usage.namespace_name(b"!head") == "head and genesis"
    assert disk_usage.namespace_name(b"u" + bytes(8)) == "audit chain"
    with pytest.raises(StoreError, match="cannot open"):
        disk_usage.compact(tmp_path / "absent")
    with pytest.raises(StoreError, match="cannot measure"):
        disk_usage.directory_bytes(tmp_path / "absent")
