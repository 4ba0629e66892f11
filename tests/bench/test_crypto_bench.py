"""``iomtshare bench crypto`` on mcl: it runs, decrypts correctly, writes JSON, checks input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bench.crypto_bench import CONFIGS
from cli.main import main


def test_bench_crypto_runs_on_mcl(tmp_path: Path) -> None:
    out = tmp_path / "crypto.json"
    args = ["bench", "crypto", "--backend", "mcl", "--runs", "3", "--no-umbral"]
    result = CliRunner().invoke(main, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "targets (mcl, median ms)" in result.output
    data = json.loads(out.read_text())
    assert data["benchmark"] == "crypto"
    rows = {(r["operation"], r["t"], r["n"]): r for r in data["rows"]}
    for t, n in CONFIGS:
        for op in ("share + proof (fresh)", "share + proof (prepared)", "verify one share"):
            assert rows[(op, t, n)]["runs"] == 3
            assert rows[(op, t, n)]["median_ms"] > 0
    assert "share + proof (fresh) (3,5)" in data["targets"]


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


def test_bench_crypto_rejects_more_pyecc_configs_than_exist() -> None:
    too_many = str(len(CONFIGS) + 1)
    result = CliRunner().invoke(main, ["bench", "crypto", "--pyecc-configs", too_many])
    assert result.exit_code == 2
    assert "--pyecc-configs" in result.output
