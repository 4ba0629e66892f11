"""``iomtshare testnet chaos``: what it refuses before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--duration", "60"], "--seed and --duration are required"),
        (["--seed", "1"], "--seed and --duration are required"),
        (["--seed", "1", "--duration", "60", "--faults", "kill,nap"], "nap"),
        (["--seed", "1", "--duration", "60", "--hold", "5-2"], "MIN-MAX"),
        (["--seed", "1", "--duration", "60", "--gap", "soon"], "MIN-MAX"),
        (["--seed", "1", "--duration", "5"], "10<=x"),
        (["--seed", "1", "--duration", "60", "--network", "docker"], "docker"),
        (["--seed", "1", "--duration", "60", "--round-timeout-ms", "10"], "100<=x"),
    ],
)
def test_bad_arguments_are_usage_errors(
    arguments: list[str], message: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["testnet", "chaos", "--dir", str(tmp_path), *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "network.json").exists()


def test_the_command_is_listed_under_testnet() -> None:
    result = CliRunner().invoke(main, ["testnet", "--help"])
    assert result.exit_code == 0
    assert "chaos" in result.output
