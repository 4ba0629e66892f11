"""The end-to-end rows of ``bench light`` (sensor) and ``bench dual`` (device): upload to an
edge -> committed record on a testnet of 4 node processes and an edge started for the run
(bench/edge_e2e.py), and how the commands pass their options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench import dual_bench, edge_e2e, light_bench
from bench.report import Report
from cli.main import main
from crypto.dual import setup
from crypto.groups import load_group


def check_figures(figures: dict[str, Any], runs: int, burst: int) -> None:
    assert (figures["nodes"], figures["edges"]) == (4, 1)
    assert (figures["runs"], figures["burst"]) == (runs, burst)
    # Each upload is accepted before it commits, and commits before its fragments are stored.
    assert 0 < figures["accepted_p50_ms"] <= figures["committed_p50_ms"]
    assert figures["committed_p50_ms"] <= figures["stored_p50_ms"]
    assert figures["committed_p50_ms"] <= figures["committed_p99_ms"]
    assert figures["uploads_per_s"] > 0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_light_prints_the_sensor_upload_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "light.json"
    result = CliRunner().invoke(main, [
        "bench", "light", "--runs", "3", "--e2e-runs", "2", "--e2e-burst", "2",
        "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "sensor -> edge -> committed record: 4 nodes + 1 edge" in result.output
    assert "seed 001 model: encryption + upload" in result.output
    check_figures(json.loads(out.read_text())["e2e_sensor_upload"], 2, 2)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_device_path_end_to_end() -> None:
    figures = edge_e2e.run("device", 1, 2)
    assert figures["path"] == "device -> edge -> committed record"
    check_figures(figures, 1, 2)


def test_the_device_row_is_anchored_on_table_iv() -> None:
    rows = dual_bench._table4(setup(load_group("mcl")), 1, t=2, n=3)
    anchors = dual_bench._upload_anchors(rows)
    assert anchors[0] == ["seed 000 Table IV: terminal + edge", 48.114 + 25.147, None]
    ours = sum(r.ours_ms for r in rows if r.operation in {"terminal (Encrypt_DCT)",
                                                           "edge (ReEncrypt_ECL)"})
    assert anchors[1] == ["in process (mcl): terminal + edge", ours, None]


@pytest.mark.parametrize(
    ("args", "expected"),
    [([], (20, 10)), (["--quick"], (5, 5)), (["--e2e-runs", "3", "--e2e-burst", "2"], (3, 2)),
     (["--quick", "--e2e-runs", "2"], (2, 5)), (["--e2e-runs", "0"], (0, 10))],
)
def test_the_commands_pass_the_end_to_end_options(
    monkeypatch: pytest.MonkeyPatch, args: list[str], expected: tuple[int, int]
) -> None:
    seen: list[tuple[int, int]] = []

    def light(runs: int, size: int, e2e_runs: int, e2e_burst: int, *_: Any) -> Report:
        seen.append((e2e_runs, e2e_burst))
        return Report("light", {})

    def dual(*_: Any, e2e_runs: int, e2e_burst: int) -> Report:
        seen.append((e2e_runs, e2e_burst))
        return Report("dual", {})

    monkeypatch.setattr(light_bench, "run", light)
    monkeypatch.setattr(dual_bench, "run", dual)
    runner = CliRunner()
    assert runner.invoke(main, ["bench", "light", *args]).exit_code == 0
    assert runner.invoke(main, ["bench", "dual", *args]).exit_code == 0
    assert seen == [expected, expected]


def test_a_negative_run_count_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["bench", "light", "--e2e-runs", "-1"])
    assert result.exit_code == 2
    assert "--e2e-runs" in result.output
