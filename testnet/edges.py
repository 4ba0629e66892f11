"""Starting the edge nodes of a local network (``testnet up --edges N``).

Each edge runs as ``iomtshare node start --role edge --home DIR/edge{j}``, with its pid and log
files named as a consensus node's, so ``testnet down`` stops edges too. An edge is ready when
its ``/status`` shows a connection to every consensus node.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from client import ClientError, NodeClient
from testnet import launcher
from testnet.launcher import LOG_FILE, PID_FILE, LaunchError, log_tail
from testnet.layout import Network


def edge_command(home: str) -> list[str]:
    return [sys.executable, "-m", "cli", "node", "start", "--role", "edge", "--home", home]


def running_edges(network: Network) -> set[int]:
    """The indexes of the edges of ``network`` whose recorded process is alive."""
    homes = {path.parent.name for path, _ in launcher._pids(network.directory)}
    return {edge.index for edge in network.edges if edge.home.name in homes}


def launch_edges(
    network: Network,
    timeout: float,
    progress: Callable[[str], None] = lambda _: None,
    *,
    only: set[int] | None = None,
) -> None:
    """Start the edges ``only`` (default: every edge) of ``network`` and wait until each is
    connected to all consensus nodes; on failure stop the edges started and raise
    :class:`~testnet.launcher.LaunchError` (the caller decides about the consensus nodes)."""
    chosen = [edge for edge in network.edges if only is None or edge.index in only]
    processes: dict[int, subprocess.Popen[bytes]] = {}
    try:
        for edge in chosen:
            home = network.directory / edge.home
            process = launcher.spawn(edge_command(str(home)), home)
            processes[edge.index] = process
            progress(f"edge {edge.index}: pid {process.pid}, {edge.http_url}")
        want = len(network.nodes)
        deadline = time.monotonic() + timeout
        pending = {edge.index for edge in chosen}
        while pending:
            for edge in chosen:
                home = network.directory / edge.home
                code = processes[edge.index].poll()
                if code is not None:
                    raise LaunchError(
                        f"edge {edge.index} exited with status {code} while starting; "
                        f"last lines of its log:\n{log_tail(home / LOG_FILE)}"
                    )
                if edge.index not in pending:
                    continue
                try:
                    with NodeClient(edge.http_url, timeout=2.0) as client:
                        connected = int(client.status().get("peers_connected", 0))
                except ClientError:
                    continue
                if connected >= want:
                    pending.discard(edge.index)
                    progress(f"edge {edge.index}: ready ({connected}/{want} nodes)")
            if pending and time.monotonic() >= deadline:
                first = network.directory / network.edges[min(pending) - 1].home
                raise LaunchError(
                    f"edges {sorted(pending)} not connected after {timeout:g} s; last lines of "
                    f"{first / LOG_FILE}:\n{log_tail(first / LOG_FILE)}"
                )
            if pending:
                time.sleep(launcher.POLL_INTERVAL)
    except BaseException:
        launcher._stop_pids(
            [
                (network.directory / network.edges[j - 1].home / PID_FILE, p.pid)
                for j, p in processes.items()
            ]
        )
        raise
