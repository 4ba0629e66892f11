"""Real node processes on loopback for integration tests: start, kill, restart, always stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from testnet.layout import Network, create_network

#: Bound on any one wait for the network (startup, a commit, a catch-up).
PATIENCE = 60.0


class NodeProcesses:
    """``n`` ``iomtshare node start`` processes over a testnet written to ``directory``."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def url(self, index: int) -> str:
        return self.network.node(index).http_url

    def home(self, index: int) -> Path:
        return self.network.directory / self.network.node(index).home

    def start(self, index: int) -> None:
        log = open(self.home(index) / "node.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[index] = subprocess.Popen(
            [sys.executable, "-m", "cli", "node", "start", "--home", str(self.home(index))],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()

    def kill(self, index: int) -> None:
        """SIGKILL: the node gets no chance to shut down cleanly."""
        proc = self.procs.pop(index)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=PATIENCE)

    def stop(self, index: int) -> int:
        """SIGTERM, then SIGKILL if it does not exit; returns the exit code."""
        proc = self.procs.pop(index)
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=PATIENCE)

    def stop_all(self) -> None:
        for index in list(self.procs):
            self.stop(index)

    def status(self, index: int) -> dict[str, object]:
        response = httpx.get(self.url(index) + "/status", timeout=5)
        response.raise_for_status()
        document: dict[str, object] = response.json()
        return document

    def wait_ready(self, indexes: list[int], peers: int, patience: float = PATIENCE) -> None:
        """Wait until each node answers and sees ``peers`` peers (bounded by ``patience``
        seconds; polls)."""
        deadline = time.monotonic() + patience
        for index in indexes:
            while True:
                proc = self.procs[index]
                if proc.poll() is not None:
                    raise RuntimeError(f"node {index} exited: {self.log_tail(index)}")
                try:
                    if int(str(self.status(index)["peers_connected"])) >= peers:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"node {index} not ready: {self.log_tail(index)}")
                time.sleep(0.2)

    def log_tail(self, index: int, lines: int = 30) -> str:
        path = self.home(index) / "node.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_network(
    directory: Path, n: int = 4, *, denial_limit: int = 5, round_timeout_ms: int = 3000
) -> Iterator[NodeProcesses]:
    """A started network of ``n`` nodes (t = quorum = floor(n/2)+1); stopped on exit."""
    network = create_network(
        directory, n, denial_limit=denial_limit, round_timeout_ms=round_timeout_ms
    )
    nodes = NodeProcesses(network)
    try:
        for index in range(1, n + 1):
            nodes.start(index)
        nodes.wait_ready(list(range(1, n + 1)), n - 1)
        yield nodes
    finally:
        nodes.stop_all()
