"""``iomtshare testnet``: input checks, ``logs`` and ``env`` (no node processes), and one killed
node of a real 2-process network started again on its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from testnet.launcher import stop
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


def test_down_and_env_refuse_a_directory_without_a_network(tmp_path: Path) -> None:
    runner = CliRunner()
    for command in ("down", "env"):
        typo = runner.invoke(main, ["testnet", command, "--dir", str(tmp_path / "typo")])
        assert typo.exit_code == 1, (command, typo.output)
        assert "no network" in typo.output


def test_env_prints_the_exports_of_a_network(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 2, base_port=34300)
    shown = CliRunner().invoke(main, ["testnet", "env", "--dir", str(tmp_path / "net")])
    assert shown.exit_code == 0, shown.output
    key = (tmp_path / "net" / "authority" / "authority_key").resolve()
    assert shown.stdout.splitlines() == [
        f"export IOMTSHARE_NODE={network.nodes[0].http_url}",
        f"export IOMTSHARE_AUTHORITY_KEY={key}",
        f"export IOMTSHARE_TESTNET={(tmp_path / 'net').resolve()}",
    ]


@pytest.mark.slow
def test_start_brings_back_only_the_node_that_was_killed(tmp_path: Path) -> None:
    root = tmp_path / "net"
    runner = CliRunner()
    try:
        started = runner.invoke(main, ["testnet", "up", "--nodes", "2", "--dir", str(root),
                                       "--timeout", "120", "--json"])
        assert started.exit_code == 0, started.output
        first_pid = int((root / "node1" / "node.pid").read_text())
        killed_pid = int((root / "node2" / "node.pid").read_text())
        os.kill(killed_pid, signal.SIGKILL)
        wait_gone(killed_pid)
        down = runner.invoke(main, ["testnet", "status", "--dir", str(root)])
        assert down.exit_code == 1

        restarted = runner.invoke(main, ["testnet", "start", "--dir", str(root),
                                         "--timeout", "120"])
        assert restarted.exit_code == 0, restarted.output
        assert "node 2" in restarted.output
        assert int((root / "node1" / "node.pid").read_text()) == first_pid
        assert int((root / "node2" / "node.pid").read_text()) != killed_pid
        states = runner.invoke(main, ["testnet", "status", "--dir", str(root), "--json"])
        assert states.exit_code == 0, states.output
        assert [(s["running"], s["peers_connected"]) for s in json.loads(states.stdout)] == [
            (True, 1), (True, 1)
        ]
        again = runner.invoke(main, ["testnet", "start", "--dir", str(root), "--node", "1"])
        assert again.exit_code == 1
        assert "node 1 is running" in again.output
    finally:
        stop(root)


def wait_gone(pid: int) -> None:
    """Reap the killed node (it is this process's child) within a deadline."""
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        if not Path(f"/proc/{pid}").exists():
            return
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.05)
