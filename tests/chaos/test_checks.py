"""The post-heal judgments and the report figures, on collected data."""

from __future__ import annotations

from pathlib import Path

from testnet.chaos.checks import (
    collect_restarts,
    judge_chains,
    judge_exits,
    judge_liveness,
    judge_requests,
    judge_restarts,
    judge_verify,
)
from testnet.chaos.events import Outcome
from testnet.chaos.faults import NodeExit
from testnet.chaos.load import RequestRecord
from testnet.chaos.report import percentile, request_figures
from testnet.chaos.schedule import FaultEvent


def chain(*hashes: str) -> list[tuple[int, str]]:
    return list(enumerate(hashes, start=1))


def test_identical_chains_agree() -> None:
    check = judge_chains({1: chain("a", "b"), 2: chain("a", "b"), 3: chain("a", "b")})
    assert check.ok
    assert check.data["divergent_heights"] == 0


def test_a_different_block_at_one_height_is_a_divergence() -> None:
    check = judge_chains({1: chain("a", "b", "c"), 2: chain("a", "x", "c"), 3: chain("a", "b")})
    assert not check.ok
    assert check.data["divergent_heights"] == 1
    assert check.data["first_divergence"]["height"] == 2
    assert sorted(check.data["first_divergence"]["hashes"].values()) == [[1, 3], [2]]


def test_a_node_left_behind_fails_without_divergence() -> None:
    check = judge_chains({1: chain("a", "b"), 2: chain("a")})
    assert not check.ok
    assert check.data["lagging_nodes"] == [2]
    assert check.data["divergent_heights"] == 0


def test_acknowledged_requests_lost_or_twice() -> None:
    assert judge_requests(["r1", "r2"], {"r1": 1, "r2": 1, "other": 1}).ok
    lost = judge_requests(["r1", "r2", "r2"], {"r1": 1})
    assert not lost.ok
    assert lost.data["lost_ids"] == ["r2"]
    assert lost.data["acknowledged"] == 2
    twice = judge_requests(["r1"], {"r1": 1, "someone-else": 2})
    assert not twice.ok
    assert twice.data["duplicated_ids"] == ["someone-else"]


def test_verify_needs_exit_code_zero_everywhere() -> None:
    assert judge_verify({1: {"exit_code": 0}, 2: {"exit_code": 0}}).ok
    bad = judge_verify({1: {"exit_code": 0}, 2: {"exit_code": 1, "first_bad": {}}})
    assert not bad.ok
    assert "[2]" in bad.detail


def test_only_unasked_exits_fail() -> None:
    asked = NodeExit(1, -9, 3.0, True, "SIGKILL", "")
    disk = NodeExit(2, 1, 4.0, False, "under a full disk", "OSError: No space left")
    crash = NodeExit(3, 1, 5.0, False, "on its own", "Traceback ...")
    assert judge_exits([asked, disk]).ok
    failed = judge_exits([asked, disk, crash])
    assert not failed.ok
    assert failed.data["died_on_their_own"][0]["log_tail"] == "Traceback ..."


def test_liveness_within_the_bound() -> None:
    assert judge_liveness(3.5, 10).ok
    assert not judge_liveness(12.0, 10).ok
    assert not judge_liveness(None, 10).ok


def test_latency_is_split_by_fault_windows_including_recovery() -> None:
    event = FaultEvent(1, "kill", 10.0, 5.0, (1,))
    outcome = Outcome(event, applied_s=10.0, healed_s=15.0, recovery_s=3.0)
    records = [
        RequestRecord(0, 5.0, "a", 1, 5.1, "granted", 5.5),  # calm: 500 ms
        RequestRecord(0, 12.0, "b", 2, 12.1, "granted", 14.0),  # fault: 2000 ms
        RequestRecord(0, 17.0, "c", 2, 17.1, "granted", 18.0),  # recovering: 1000 ms
        RequestRecord(0, 20.0, "d", 3, 20.1, "undecided"),
        RequestRecord(0, 21.0),
    ]
    figures = request_figures(records, [outcome])
    assert figures["sent"] == 5
    assert figures["acknowledged"] == 4
    assert figures["undecided_by_client"] == 1
    assert figures["unacknowledged"] == 1
    assert figures["latency_calm"] == {"decided": 1, "p50_ms": 500.0, "p99_ms": 500.0}
    assert figures["latency_during_faults"]["decided"] == 2
    assert figures["latency_during_faults"]["p99_ms"] == 2000.0


def test_percentile_by_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def _log_line(text: str) -> str:
    return f"2026-12-06 10:50:00,000 level=INFO logger=iomtshare.node.consensus {text}"


def test_restarts_are_read_from_a_node_log(tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    log.write_text("\n".join([
        "--- chaos: start at 1.0 s, clock skew 0 ms",
        _log_line("node started index=2 height=0 peer=P http=[]"),
        *(_log_line(f"block committed height={h} round=0 hash=ab signers=[1, 2]")
          for h in range(1, 8)),
        "--- chaos: start at 9.0 s, clock skew 0 ms",
        "TEST ONLY: wall clock shifted by 1 ms",
        "--- chaos: start at 12.0 s, clock skew 0 ms",
        _log_line("node started index=2 height=5 peer=P http=[]"),
        _log_line("block committed height=9 round=0 hash=ab signers=[1, 2]"),
        "--- chaos: start at 20.0 s, clock skew 0 ms",
        _log_line("node started index=2 height=9 peer=P http=[]"),
    ]) + "\n")
    assert collect_restarts(log) == [(7, 5), (9, 9)]
    assert collect_restarts(tmp_path / "missing.log") == []


def test_a_node_that_comes_back_lower_lost_committed_blocks() -> None:
    check = judge_restarts({1: [(10, 10)], 2: [(98, 78), (120, 125)], 3: []})
    assert not check.ok
    assert check.data["restarts"] == 3
    assert check.data["lost"] == {"2": [{"committed": 98, "started_at": 78}]}
    assert "20 block(s)" in check.detail


def test_restarts_at_or_above_the_committed_height_pass() -> None:
    check = judge_restarts({1: [(10, 10), (12, 15)], 2: []})
    assert check.ok
    assert check.data["lost"] == {}
