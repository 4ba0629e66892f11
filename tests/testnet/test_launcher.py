"""testnet.launcher: failure paths with stand-in node commands, and a real node restarted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from client import NodeClient
from testnet import launcher
from testnet.launcher import LaunchError, log_tail, start, stop, up
from tests.node.test_service import register_tx


def test_a_node_that_dies_is_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        launcher,
        "node_command",
        lambda home: [sys.executable, "-c", "print('cannot bind: address in use'); exit(3)"],
    )
    with pytest.raises(LaunchError, match="exited with status 3") as info:
        up(tmp_path / "net", 2, timeout=30)
    assert "cannot bind: address in use" in str(info.value)
    assert not list((tmp_path / "net").glob("node*/node.pid"))


def test_a_network_that_never_connects_times_out_and_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Never answers HTTP; ``--home`` in its command line lets ``stop`` recognise it as ours.
    monkeypatch.setattr(
        launcher,
        "node_command",
        lambda home: [sys.executable, "-c", "import time; time.sleep(120)", "--home", str(home)],
    )
    with pytest.raises(LaunchError, match="not ready after 1 s") as info:
        up(tmp_path / "net", 2, timeout=1)
    assert "node 1:" in str(info.value)
    assert not list((tmp_path / "net").glob("node*/node.pid"))


def test_stop_only_signals_processes_that_are_our_nodes(tmp_path: Path) -> None:
    home = tmp_path / "node1"
    home.mkdir()
    # A pid file naming this very test process: it is alive but not a node of ``home``.
    (home / "node.pid").write_text(f"{os.getpid()}\n")
    assert stop(tmp_path, grace=0) == []
    assert not (home / "node.pid").exists()


def test_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, 2) == "line 98\nline 99"
    assert log_tail(tmp_path / "missing") == "(no log)"


def wait_until_exec(pid: int) -> None:
    """Wait until the child's command line is visible (it is empty between fork and exec)."""
    deadline = time.monotonic() + 10
    while not Path(f"/proc/{pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "child never started"
        time.sleep(0.01)


def test_start_refuses_a_running_network_and_a_missing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["testnet", "start", "--dir", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert "no network" in missing.output
    # A stand-in node that never answers HTTP but counts as running (``--home`` in its args).
    monkeypatch.setattr(
        launcher,
        "node_command",
        lambda home: [sys.executable, "-c", "import time; time.sleep(120)", "--home", str(home)],
    )
    with pytest.raises(LaunchError, match="not ready"):
        up(tmp_path / "net", 1, timeout=0.5)
    (tmp_path / "net" / "node1").mkdir(exist_ok=True)
    process = subprocess.Popen(launcher.node_command(tmp_path / "net" / "node1"))
    try:
        (tmp_path / "net" / "node1" / "node.pid").write_text(f"{process.pid}\n")
        wait_until_exec(process.pid)
        with pytest.raises(LaunchError, match="has running nodes"):
            start(tmp_path / "net", timeout=1)
    finally:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_a_stopped_network_starts_again_with_its_ledger(tmp_path: Path) -> None:
    root = tmp_path / "net"
    network = up(root, 1, timeout=60)
    try:
        _, raw = register_tx(network.chain_id, network.authority_key())
        with NodeClient(network.nodes[0].http_url, timeout=30) as client:
            tx_id = client.submit_tx(raw)
            height = client.tx(tx_id, wait=30)["height"]
    finally:
        stop(root)
    again = CliRunner().invoke(main, ["testnet", "up", "--nodes", "1", "--dir", str(root)])
    assert again.exit_code == 1
    assert "testnet start" in again.output
    restarted = start(root, timeout=60)
    try:
        with NodeClient(restarted.nodes[0].http_url, timeout=30) as client:
            assert client.status()["height"] >= height
            assert client.tx(tx_id)["height"] == height
    finally:
        stop(root)
