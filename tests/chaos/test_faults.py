"""The process manager of a chaos run, on stand-in processes (``sh`` instead of a node: the
prefix runs first and never hands over to the node command), and the data disk as root."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from testnet.chaos.faults import CLOCK_SKEW_ENV, DataDisk, FaultError, NodeProcesses
from testnet.launcher import LOG_FILE
from testnet.layout import Network, create_network


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    return create_network(tmp_path_factory.mktemp("net"), 3)


def stand_in(script: str) -> list[str]:
    return ["sh", "-c", script, "--"]


def until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_signals_the_harness_sends_are_expected_exits(network: Network) -> None:
    procs = NodeProcesses(network, lambda _: stand_in("exec sleep 30"), time.monotonic)
    procs.start(1)
    procs.start(2)
    with pytest.raises(FaultError, match="already running"):
        procs.start(1)
    pid = procs.pid(1)
    assert pid is not None
    procs.pause(1)
    until(lambda: state(pid) == "T")
    procs.resume(1)
    until(lambda: state(pid) != "T")
    procs.kill(1)
    assert procs.term(2) is True
    assert not procs.is_running(1)
    assert not procs.is_running(2)
    assert [(e.node, e.cause, e.expected) for e in procs.exits] == [
        (1, "SIGKILL", True), (2, "SIGTERM", True)
    ]
    assert procs.check() == []
    with pytest.raises(FaultError, match="not running"):
        procs.kill(1)


def test_a_paused_node_still_stops_on_sigterm(network: Network) -> None:
    procs = NodeProcesses(network, lambda _: stand_in("exec sleep 30"), time.monotonic)
    procs.start(3)
    procs.pause(3)
    assert procs.term(3, grace_s=5) is True


def test_a_node_ignoring_sigterm_is_killed_after_the_grace(network: Network) -> None:
    armed = network.directory / "trap-armed"
    script = f"trap '' TERM; : > '{armed}'; sleep 3"
    procs = NodeProcesses(network, lambda _: stand_in(script), time.monotonic)
    procs.start(1)
    # The shell only ignores SIGTERM once the trap has run: wait for its mark, not for the
    # process to exist, or the signal can land first and end it at once.
    until(armed.exists)
    assert procs.term(1, grace_s=0.3) is False
    assert procs.exits[-1].cause == "SIGTERM, then SIGKILL after the grace period"


def test_an_exit_nobody_asked_for_is_found_with_its_log(network: Network) -> None:
    procs = NodeProcesses(network, lambda _: stand_in("echo boom; exit 3"), time.monotonic)
    procs.start(2)
    until(lambda: bool(procs.check()))
    (ended,) = procs.exits
    assert (ended.node, ended.code, ended.expected, ended.cause) == (2, 3, False, "on its own")
    assert "boom" in ended.log_tail
    procs.excuses[2] = "under a full disk"
    procs.start(2)
    until(lambda: bool(procs.check()))
    assert procs.exits[-1].cause == "under a full disk"


def test_each_start_gets_its_clock_skew(network: Network) -> None:
    script = f'echo "skew=${CLOCK_SKEW_ENV}"; exec sleep 30'
    procs = NodeProcesses(network, lambda _: stand_in(script), time.monotonic, {1: -250})
    log = network.directory / network.node(1).home / LOG_FILE
    procs.start(1)
    until(lambda: "skew=-250" in log.read_text())
    procs.kill(1)
    procs.start(1, skew_ms=7000)
    until(lambda: "skew=7000" in log.read_text())
    assert procs.skews_ms[1] == 7000
    procs.stop_all()
    assert not procs.is_running(1)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_the_data_disk_fills_and_frees(tmp_path: Path) -> None:
    disk = DataDisk(tmp_path / "data", roomy_bytes=4 * 1024 * 1024)
    reason = disk.mount()
    if reason is not None:
        pytest.skip(f"no tmpfs here: {reason}")
    try:
        (disk.path / "a").write_bytes(b"x" * 100_000)
        disk.fill()
        with pytest.raises(OSError, match="No space left"):
            (disk.path / "b").write_bytes(b"y" * 100_000)
        disk.free()
        (disk.path / "b").write_bytes(b"y" * 100_000)
    finally:
        disk.unmount()
    assert not disk.mounted
    assert not any(disk.path.iterdir())


def test_a_disk_over_existing_data_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ledger").write_text("x")
    assert "not empty" in (DataDisk(tmp_path / "data").mount() or "")
