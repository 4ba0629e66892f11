"""``iomtshare testnet``: input checks and ``logs`` (no node processes)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from testnet.layout import create_network


def test_testnet_commands_validate_input(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["testnet", "up", "--nodes", "3", "--threshold", "4",
                               "--dir", str(tmp_path / "x")])
    assert bad.exit_code == 2
    assert "exceeds" in bad.output
    missing = runner.invoke(main, ["testnet", "status", "--dir", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert "no network" in missing.output


def test_logs_prints_the_tail_of_one_node(tmp_path: Path) -> None:
    create_network(tmp_path, 2, base_port=34200)
    (tmp_path / "node2" / "node.log").write_text("starting\nlistening on 34202\n")
    runner = CliRunner()
    shown = runner.invoke(main, ["testnet", "logs", "--node", "2", "--lines", "1",
                                 "--dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert shown.output == "listening on 34202\n"
    absent = runner.invoke(main, ["testnet", "logs", "--node", "3", "--dir", str(tmp_path)])
    assert absent.exit_code == 1
    assert "no node 3" in absent.output
