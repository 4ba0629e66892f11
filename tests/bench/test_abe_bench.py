"""Smoke test of ``iomtshare bench abe --quick``: it runs and counts six pairings."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import main


def test_bench_abe_quick_runs(tmp_path: Path) -> None:
    out = tmp_path / "abe.json"
    args = ["bench", "abe", "--backend", "mcl", "--quick", "--runs", "1", "--json", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Charm" in result.output
    rows = json.loads(out.read_text())["rows"]
    assert {row["pairings"] for row in rows if row["operation"] == "decrypt"} == {6}
    assert {row["case"] for row in rows} == {"and-10", "2-of-3"}
