"""bench e2e's phases (prepare, low load, bursts, sustained load, anchor) against real nodes
over HTTP: a 3-node testnet run in this process (tests/client/live_network.py).

The real benchmark runs on a testnet of node processes; this checks its bookkeeping, on the
real API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.e2e_bench import anchor, low_load, percentile, saturation
from bench.e2e_fixture import POLICY, prepare
from bench.e2e_load import node_pids
from bench.e2e_policy import compare, table
from cli.main import main
from crypto.groups import load_group
from testnet.layout import create_network
from tests.client.live_network import LiveNetwork, live_network


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetwork]:
    # One network for the module: each run registers its own owner, record and requesters.
    with live_network(tmp_path_factory.mktemp("bench") / "net", 3, threshold=2) as running:
        yield running


def test_phases_produce_consistent_figures(live: LiveNetwork) -> None:
    group = load_group("mcl")
    fixture = prepare(live.network, group, requesters=2, size=300)
    low = low_load(fixture, group, runs=3, timeout=30)
    level = saturation(fixture, group, concurrency=4, timeout=30)
    assert [len(v) for v in low.values()] == [3, 3, 3]
    assert all(d <= t for d, t in zip(low["decision"], low["decrypt"], strict=True))
    assert level["concurrent"] == 4
    assert len(level["latencies_ms"]) == 4
    assert level["requests_per_s"] > 0
    assert level["latency_p50_ms"] <= level["latency_p99_ms"]
    assert len(anchor(group, 3, 2, runs=2)) == 2


def test_policy_records_are_measured_next_to_owner_grant_records(live: LiveNetwork) -> None:
    group = load_group("mcl")
    fixture = prepare(live.network, group, requesters=2, size=300, policy=True)
    assert fixture.policy_record_id is not None
    assert len(fixture.attribute_keys) == 2
    payload = compare(fixture, group, runs=3, timeout=30)
    grant, policy = payload["owner_grant"], payload["policy"]
    assert set(policy) == {"decision", "decrypt", "domain_half", "fame_decrypt"}
    assert policy["fame_decrypt"]["p50_ms"] > 0
    assert policy["decision"]["p50_ms"] <= policy["decrypt"]["p50_ms"]
    assert payload["p50_ratio"] == policy["decrypt"]["p50_ms"] / grant["decrypt"]["p50_ms"]
    assert payload["p50_ratio_without_fame"] < payload["p50_ratio"]
    text = table(payload)
    assert "FAME decrypt (K_abe)" in text
    assert repr(POLICY) in text
    assert "p50 ratio policy / owner-grant" in text


def test_the_policy_option_prints_and_writes_the_comparison(
    tmp_path: Path, live: LiveNetwork
) -> None:
    out = tmp_path / "e2e.json"
    result = CliRunner().invoke(main, [
        "bench", "e2e", "--dir", str(live.network.directory), "--runs", "2", "--policy",
        "--concurrency", "2", "--requesters", "2", "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "p50 ratio policy / owner-grant" in result.output
    compared = json.loads(out.read_text())["policy_vs_grant"]
    assert compared["runs"] == 2
    assert compared["target_ratio"] == 1.5


def test_percentile_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def test_the_command_on_an_existing_network_writes_json(
    tmp_path: Path, live: LiveNetwork
) -> None:
    out = tmp_path / "e2e.json"
    result = CliRunner().invoke(main, [
        "bench", "e2e", "--dir", str(live.network.directory), "--runs", "2",
        "--concurrency", "2,3", "--repeats", "2", "--requesters", "2", "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "committed req/s" in result.output
    payload = json.loads(out.read_text())
    assert [level["concurrent"] for level in payload["saturation"]] == [2, 3]
    assert all(level["repeats"] == 2 for level in payload["saturation"])
    assert payload["low_load"]["decrypt"]["runs"] == 2
    assert payload["paper"]["reencryption_stage_ms"] == 98.0


def test_the_sustained_mode_offers_each_rate_and_keeps_the_burst_table(
    tmp_path: Path, live: LiveNetwork
) -> None:
    out = tmp_path / "e2e.json"
    # Limits no decision reaches even on a busy machine: both rates must pass.
    result = CliRunner().invoke(main, [
        "bench", "e2e", "--dir", str(live.network.directory), "--runs", "2",
        "--concurrency", "2", "--requesters", "2", "--sustained", "--rates", "8,4",
        "--duration", "1", "--warmup", "0.5", "--p99-limit-ms", "600000",
        "--request-timeout", "120", "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "sustained load, open loop" in result.output
    assert "bursts of c concurrent requests" in result.output
    assert "knee: 8 req/s offered" in result.output
    payload = json.loads(out.read_text())
    steps = payload["sustained"]["steps"]
    assert [step["rate"] for step in steps] == [4, 8]
    assert [step["requests"] for step in steps] == [4, 8]
    assert all(step["failures"] == 0 for step in steps)
    assert all(step["latency_ms"]["p50"] <= step["latency_ms"]["p99"] for step in steps)
    # The nodes run in this process, without pid files: only the load generator's CPU is known.
    assert all(step["cpu_share_of_one_core"]["bench"] is not None for step in steps)
    assert payload["sustained"]["knee"]["rate"] == 8
    assert [level["concurrent"] for level in payload["saturation"]] == [2]
    assert payload["anchor_in_process_ms"]["p50_ms"] > 0


def test_node_pids_come_from_the_launcher_pid_files(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 3, threshold=2, base_port=34300)
    (tmp_path / "net" / network.nodes[0].home / "node.pid").write_text("4242\n")
    (tmp_path / "net" / network.nodes[2].home / "node.pid").write_text("not a pid\n")
    assert node_pids(network) == {f"node{network.nodes[0].index}": 4242}


def test_the_command_checks_its_input(tmp_path: Path) -> None:
    runner = CliRunner()
    for levels in ("0,5", "5,201", "five", ","):
        bad = runner.invoke(main, ["bench", "e2e", "--concurrency", levels])
        assert bad.exit_code == 2, levels
        assert "--concurrency" in bad.output
    for rates in ("0,5", "five", ",", "5,20000"):
        bad = runner.invoke(main, ["bench", "e2e", "--sustained", "--rates", rates])
        assert bad.exit_code == 2, rates
        assert "--rates" in bad.output
    missing = runner.invoke(main, ["bench", "e2e", "--dir", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert "no network" in missing.output
