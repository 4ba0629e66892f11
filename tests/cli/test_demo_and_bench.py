"""The command line: the demo runs end to end, bad input exits non-zero, the bench writes JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import main


def test_demo_runs_the_whole_flow() -> None:
    result = CliRunner().invoke(main, ["demo", "--nodes", "3", "--threshold", "2"])
    assert result.exit_code == 0, result.output
    assert "requester decrypted the metadata" in result.output


def test_demo_rejects_threshold_above_nodes() -> None:
    result = CliRunner().invoke(main, ["demo", "--nodes", "2", "--threshold", "3"])
    assert result.exit_code == 2
    assert "exceeds" in result.output


def test_bench_crypto_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "crypto.json"
    result = CliRunner().invoke(
        main, ["bench", "crypto", "--backend", "mcl", "--runs", "3", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    operations = {(r["backend"], r["operation"]) for r in payload["rows"]}
    assert ("mcl", "share + proof (fresh)") in operations
    assert ("umbral-pre", "cfrag.verify") in operations
    assert "pairing" in payload["targets"]


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output
    assert "bench" in result.output
