"""Run a local testnet as real processes: one ``iomtshare node start --home`` per node.

``up`` writes the network with :func:`testnet.layout.create_network`, starts the nodes detached
(their own session, so the launching shell can exit), keeps ``DIR/node{i}/node.pid`` and
``DIR/node{i}/node.log``, and waits until every node reports all its peers connected. ``stop``
sends SIGTERM to the recorded processes, then SIGKILL to those still alive after a grace period;
``start`` runs again, with their data, the nodes that are not running (a stopped network, or
one node that was killed).
Errors are :class:`LaunchError` and carry the tail of the failing node's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client import ClientError, NodeClient
from testnet.layout import Network, NodeEndpoint, create_network, load_network

PID_FILE = "node.pid"
LOG_FILE = "node.log"
POLL_INTERVAL = 0.25
LOG_TAIL_LINES = 25


class LaunchError(Exception):
    """A testnet could not be started, found or stopped."""


@dataclass(frozen=True, slots=True)
class NodeState:
    """What ``status`` reports about one node or edge (``None`` where it did not answer)."""

    index: int
    pid: int | None
    running: bool
    http_url: str
    height: int | None
    head_hash: str | None
    peers_connected: int | None
    error: str | None
    role: str = "node"  # or "edge"
    #: Header batches an edge refused (None for a consensus node).
    headers_refused: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "role": self.role,
            "pid": self.pid,
            "running": self.running,
            "http_url": self.http_url,
            "height": self.height,
            "head_hash": self.head_hash,
            "peers_connected": self.peers_connected,
            "error": self.error,
        }
        if self.role == "edge":
            out["headers_refused"] = self.headers_refused
        return out


def node_command(home: Path) -> list[str]:
    """The command that runs one node (the same interpreter, so the same venv)."""
    return [sys.executable, "-m", "cli", "node", "start", "--home", str(home)]


def spawn(command: list[str], home: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session, logging to ``home``'s log file, and record its
    pid in ``home``'s pid file (which ``testnet down`` reads)."""
    with open(home / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    (home / PID_FILE).write_text(f"{process.pid}\n")
    return process


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def up(
    directory: Path,
    n: int,
    *,
    threshold: int | None = None,
    base_port: int | None = None,
    timeout: float = 60.0,
    overwrite: bool = False,
    genesis_params: dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    edges: int = 0,
) -> Network:
    """Create and start an ``n``-node testnet in ``directory``; return it once all are ready.
    ``edges`` edge nodes are listed in genesis and given homes; :mod:`testnet.edges` starts them.

    If any node exits or the network is not fully connected within ``timeout`` seconds, every
    started node is stopped and :class:`LaunchError` is raised with the log tail.
    """
    if directory.exists() and any(_pids(directory)):
        raise LaunchError(f"{directory} has running nodes; run `testnet down --dir {directory}`")
    network = create_network(
        directory,
        n,
        threshold=threshold,
        base_port=base_port,
        overwrite=overwrite,
        edges=edges,
        **(genesis_params or {}),
    )
    launch(network, timeout, progress)
    return network


def start(
    directory: Path,
    *,
    nodes: Sequence[int] | None = None,
    timeout: float = 60.0,
    progress: Callable[[str], None] = lambda _: None,
) -> Network:
    """Start the nodes of the testnet in ``directory`` that are not running, with their keys,
    ports and data: the whole of a stopped network, or the one node that was killed.
    ``nodes`` names the nodes to start instead (each must be stopped). Returns the network
    once each node started sees every running peer.

    Raises :class:`LaunchError` if nothing is stopped or a named node is running, and
    :class:`~testnet.layout.LayoutError` if there is no network there or no such node.
    """
    network = load_network(directory)
    running = running_nodes(network)
    if nodes is None:
        chosen = [node.index for node in network.nodes if node.index not in running]
        if not chosen:
            raise LaunchError(
                f"{directory} has running nodes only: nothing to start "
                f"(`testnet down --dir {directory}` stops them)"
            )
    else:
        chosen = sorted(set(nodes))
        for index in chosen:
            network.node(index)
            if index in running:
                raise LaunchError(f"node {index} is running (pid {running[index]})")
    launch(network, timeout, progress, only=chosen, peers=len(running) + len(chosen) - 1)
    return network


def running_nodes(network: Network) -> dict[int, int]:
    """Index -> pid of the nodes of ``network`` whose recorded process is alive."""
    pids = {path.parent.name: pid for path, pid in _pids(network.directory)}
    return {
        node.index: pids[node.home.name] for node in network.nodes if node.home.name in pids
    }


def launch(
    network: Network,
    timeout: float,
    progress: Callable[[str], None],
    *,
    only: Sequence[int] | None = None,
    peers: int | None = None,
) -> None:
    """Start the nodes ``only`` (default: all) of ``network`` and wait until each sees
    ``peers`` peers (default: all others); on any failure stop the ones started and raise
    :class:`LaunchError`."""
    chosen = [network.node(i) for i in only] if only is not None else list(network.nodes)
    processes: dict[int, subprocess.Popen[bytes]] = {}
    try:
        for node in chosen:
            home = network.directory / node.home
            process = spawn(node_command(home), home)
            processes[node.index] = process
            progress(f"node {node.index}: pid {process.pid}, {node.http_url}")
        wait_ready(network, processes, timeout, progress, peers=peers)
    except BaseException:
        # Only what this call started: a node restarted into a running network must not take
        # the others down with it.
        _stop_pids([(network.directory / network.node(i).home / PID_FILE, p.pid)
                    for i, p in processes.items()])
        raise


def wait_ready(
    network: Network,
    processes: Mapping[int, subprocess.Popen[bytes]],
    timeout: float,
    progress: Callable[[str], None] = lambda _: None,
    *,
    peers: int | None = None,
) -> None:
    """Poll the ``/status`` of each node in ``processes`` (index -> process) until it sees
    ``peers`` peers (default: all n-1); raises LaunchError."""
    deadline = time.monotonic() + timeout
    pending = set(processes)
    last: dict[int, str] = {}
    want = len(network.nodes) - 1 if peers is None else peers
    while pending:
        for index, process in sorted(processes.items()):
            node = network.node(index)
            code = process.poll()
            if code is not None:
                log = network.directory / node.home / LOG_FILE
                raise LaunchError(
                    f"node {node.index} exited with status {code} while starting; "
                    f"last lines of {log}:\n{log_tail(log)}"
                )
            if node.index not in pending:
                continue
            try:
                with NodeClient(node.http_url, timeout=2.0) as client:
                    status = client.status()
            except ClientError as exc:
                last[node.index] = str(exc)
                continue
            connected = int(status.get("peers_connected", 0))
            last[node.index] = f"{connected}/{want} peers connected"
            if connected >= want:
                pending.discard(node.index)
                progress(f"node {node.index}: ready ({connected}/{want} peers)")
        if not pending:
            return
        if time.monotonic() >= deadline:
            first = min(pending)
            log = network.directory / network.node(first).home / LOG_FILE
            states = "; ".join(f"node {i}: {last.get(i, 'no answer')}" for i in sorted(pending))
            raise LaunchError(
                f"testnet not ready after {timeout:g} s ({states}); "
                f"last lines of {log}:\n{log_tail(log)}"
            )
        time.sleep(POLL_INTERVAL)


def _pids(directory: Path) -> list[tuple[Path, int]]:
    found = []
    # Edge homes (testnet.edges) keep their pid files the same way.
    pid_files = [*directory.glob(f"node*/{PID_FILE}"), *directory.glob(f"edge*/{PID_FILE}")]
    for pid_file in sorted(pid_files):
        try:
            found.append((pid_file, int(pid_file.read_text().strip())))
        except (OSError, ValueError):
            continue
    return [(path, pid) for path, pid in found if _is_our_node(pid, path.parent)]


def _is_our_node(pid: int, home: Path) -> bool:
    """True if ``pid`` is alive and is the node of ``home`` (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid)
    return str(home.resolve()).encode() in cmdline or str(home).encode() in cmdline


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own child (else it is reaped by init)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(directory: Path, grace: float = 10.0) -> list[int]:
    """SIGTERM every recorded node, SIGKILL the ones still alive after ``grace`` seconds.

    Returns the pids that were signalled. Pid files are removed.
    """
    targets = _pids(directory)
    _stop_pids(targets, grace)
    for path in directory.glob(f"node*/{PID_FILE}"):
        path.unlink(missing_ok=True)
    return [pid for _, pid in targets]


def _stop_pids(targets: Sequence[tuple[Path, int]], grace: float = 10.0) -> None:
    """SIGTERM the ``(pid file, pid)`` pairs, SIGKILL those alive after ``grace`` seconds, and
    remove their pid files."""
    for _, pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    remaining = [pid for _, pid in targets]
    while remaining and time.monotonic() < deadline:
        for pid in remaining:
            _reap(pid)
        remaining = [pid for pid in remaining if _alive(pid)]
        if remaining:
            time.sleep(0.1)
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
    for path, _ in targets:
        path.unlink(missing_ok=True)


def status(directory: Path) -> list[NodeState]:
    """Height, head and peers of every node of the testnet in ``directory``, then of every
    edge (its tip as ``head_hash``, and the header batches it refused)."""
    network = load_network(directory)
    running = {path.parent.name: pid for path, pid in _pids(network.directory)}
    members = [(node, "node") for node in network.nodes] + [(e, "edge") for e in network.edges]
    return [_state(end, role, running.get(end.home.name)) for end, role in members]


def _state(endpoint: NodeEndpoint, role: str, pid: int | None) -> NodeState:
    url = endpoint.http_url
    try:
        with NodeClient(url, timeout=2.0) as client:
            answer = client.status()
    except ClientError as exc:
        return NodeState(endpoint.index, pid, pid is not None, url, None, None, None, str(exc),
                         role)
    return NodeState(
        endpoint.index, pid, pid is not None, url, answer.get("height"),
        answer.get("head_hash", answer.get("block_hash")), answer.get("peers_connected"), None,
        role, answer.get("headers_refused"),
    )
