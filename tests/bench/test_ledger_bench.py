"""``iomtshare bench ledger`` runs end to end on a tiny ledger and writes its JSON report."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bench.ledger_bench import SIZES
from cli.main import main


def test_tiny_bench_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "ledger.json"
    args = ["--records", "150", "--blocks", "2,2,2", "--query-runs", "2", "--json", str(out)]
    result = CliRunner().invoke(main, ["bench", "ledger", *args, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert set(report["append"]) == {str(size) for size in SIZES}
    assert all(report["append"][str(s)]["anchor_raw_batch"]["runs"] > 0 for s in SIZES)
    single, fresh_single, fresh_parallel = report["verify"]
    assert (single["workers"], fresh_single["workers"], fresh_parallel["workers"]) == (1, 1, 2)
    assert (single["fresh_process"], fresh_parallel["fresh_process"]) == (False, True)
    assert fresh_parallel["blocks"] == single["blocks"]
    assert {str(size) for size in SIZES} <= set(single)
    assert "full blocks range (10)" in report["queries"]
    assert "meets" in result.output


def test_block_counts_are_checked() -> None:
    for bad in ("5,5", "5,5,1", "5,x,5"):
        result = CliRunner().invoke(main, ["bench", "ledger", "--blocks", bad])
        assert result.exit_code == 2, bad
        assert "--blocks" in result.output
