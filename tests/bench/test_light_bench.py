"""Smoke test of ``iomtshare bench light``: it runs, prints both tables and writes JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import main


def test_bench_light_runs(tmp_path: Path) -> None:
    out = tmp_path / "light.json"
    result = CliRunner().invoke(
        main, ["bench", "light", "--runs", "3", "--e2e-runs", "0", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Table 2" in result.output
    assert "Table 5" in result.output
    data = json.loads(out.read_text())
    assert data["benchmark"] == "light"
    assert set(data["table2_model"]) >= {"setup", "encryption + upload", "decryption"}
    assert data["e2e_sensor_upload"] is None  # --e2e-runs 0: no testnet, no end-to-end row
