"""The command line: the demo runs end to end, bad input exits non-zero, help lists commands."""

from __future__ import annotations

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


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output
    assert "bench" in result.output
