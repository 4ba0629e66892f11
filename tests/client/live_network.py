"""Real nodes for the client, CLI and bench tests, in this process.

:func:`live_network` writes a testnet with :mod:`testnet.layout` and runs every node of it as a
real :class:`node.service.NodeService`: its LevelDB ledger in the temporary directory, consensus
over libp2p, and the real HTTP routes on loopback ports. The nodes share one trio loop in a
background thread, so synchronous code (the client library, click's ``CliRunner``, the bench
phases) talks to them over HTTP exactly as it talks to a testnet of node processes.

Only public entry points are used (``create_network``, ``load_identity``,
``NodeService(identity).run(task_status=...)`` and ``GET /status``), so the fixture follows the
node wherever its insides move.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from client import ClientError, NodeClient
from node.home import load_identity
from node.service import NodeService
from testnet.layout import Network, create_network

#: Generous bound on anything that should happen soon (start, connect, stop); never slept.
PATIENCE = 60.0
#: Between two looks at the nodes' status while waiting for them to connect.
POLL_INTERVAL = 0.05
#: Short blocks, so a test's sequential commits take tenths of a second, not seconds.
FAST_CHAIN = {"block_interval_ms": 100, "round_timeout_ms": 1000}


@dataclass
class LiveNetwork:
    """A running in-process testnet: what :mod:`testnet.layout` wrote, and its nodes' URLs."""

    network: Network
    urls: tuple[str, ...]

    @property
    def url(self) -> str:
        """The HTTP API of node 1."""
        return self.urls[0]


@dataclass
class _Loop:
    """What the background thread hands back to the test thread."""

    started: threading.Event = field(default_factory=threading.Event)
    token: trio.lowlevel.TrioToken | None = None
    scope: trio.CancelScope | None = None
    urls: dict[int, str] = field(default_factory=dict)
    error: BaseException | None = None


@contextmanager
def live_network(
    directory: Path, n: int = 4, *, threshold: int | None = None, **genesis: int
) -> Iterator[LiveNetwork]:
    """Create an ``n``-node testnet in ``directory`` and run it until the block exits.

    ``threshold`` and ``genesis`` go to :func:`testnet.layout.create_network` (fast blocks by
    default). Yields once every node serves HTTP and sees its n-1 peers. A node that fails
    makes the block raise on exit, even if the test itself passed.
    """
    network = create_network(directory, n, threshold=threshold, **{**FAST_CHAIN, **genesis})
    with running(network) as urls:
        yield LiveNetwork(network, urls)


@contextmanager
def running(network: Network) -> Iterator[tuple[str, ...]]:
    """Run every node of ``network`` in this process; yields their HTTP URLs, node 1 first."""
    loop = _Loop()
    thread = threading.Thread(target=_thread, args=(network, loop), daemon=True)
    thread.start()
    try:
        if not loop.started.wait(PATIENCE):
            raise TimeoutError(f"the nodes did not start within {PATIENCE:g} s")
        if loop.error is not None:
            raise RuntimeError("a node failed to start") from loop.error
        urls = tuple(loop.urls[node.index] for node in network.nodes)
        _wait_connected(urls, loop)
        yield urls
    finally:
        if loop.token is not None and loop.scope is not None and thread.is_alive():
            # The loop may finish on its own (a node failed) between the check and the call.
            with suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(loop.scope.cancel, trio_token=loop.token)
        thread.join(PATIENCE)
        if thread.is_alive():
            raise TimeoutError(f"the nodes did not stop within {PATIENCE:g} s")
    if loop.error is not None:
        raise RuntimeError("a node failed while the test ran") from loop.error


def _thread(network: Network, loop: _Loop) -> None:
    """The background thread: run the nodes; keep whatever stopped them for the test thread."""
    try:
        trio.run(_serve, network, loop)
    except BaseException as exc:
        loop.error = exc
    finally:
        loop.started.set()


async def _serve(network: Network, loop: _Loop) -> None:
    """Start every node at once, then run until the test cancels the loop."""
    loop.token = trio.lowlevel.current_trio_token()
    with trio.CancelScope() as scope:
        loop.scope = scope
        async with trio.open_nursery() as nursery:

            async def start(index: int, home: Path) -> None:
                service = NodeService(load_identity(home))
                urls: list[str] = await nursery.start(service.run)
                loop.urls[index] = urls[0]

            # Started together, so no node spends its first dials on peers not yet up.
            async with trio.open_nursery() as starting:
                for node in network.nodes:
                    starting.start_soon(start, node.index, network.directory / node.home)
            loop.started.set()


def _wait_connected(urls: tuple[str, ...], loop: _Loop) -> None:
    """Poll every node's ``/status`` until each sees all its peers (a deadline, no fixed wait)."""
    want = len(urls) - 1
    deadline = time.monotonic() + PATIENCE
    pending = set(urls)
    last: dict[str, Any] = {}
    while pending:
        if loop.error is not None:
            raise RuntimeError("a node failed while connecting") from loop.error
        for url in sorted(pending):
            try:
                with NodeClient(url, timeout=5.0) as client:
                    last[url] = client.status().get("peers_connected")
            except ClientError as exc:
                last[url] = exc
                continue
            if last[url] == want:
                pending.discard(url)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"nodes not connected within {PATIENCE:g} s: {last}")
        if pending:
            time.sleep(POLL_INTERVAL)


class CountingTransport(httpx.HTTPTransport):
    """A real HTTP transport that also records every ``(method, path)`` it sends, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append((request.method, request.url.path))
        return super().handle_request(request)
