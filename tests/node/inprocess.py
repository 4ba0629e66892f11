"""Nodes in process, without sockets, so their tests can run on trio's MockClock.

The node's own parts (:func:`node.service.assemble`: application, consensus loop, gossip
fallback, fragment service, the :class:`~node.view.NodeView`) run in the test's nursery; only the
network around them is left out. No libp2p host runs (a :class:`~node.p2p.P2PHost` is built but
never started, so it opens no socket), and the HTTP app is called through
``httpx.ASGITransport``. Consensus timers then run on the test's clock: with
``MockClock(autojump_threshold=0)`` a round timeout costs no real time.

* :func:`one_node` - a one-node network's real home and stores in a temp dir, and an HTTP
  client on its app;
* :func:`memory_network` - the nodes of an :class:`~tests.node.app_world.AppWorld` (memory
  stores), whose links hand each frame batch straight to the receiving node's consensus loop.

Keep worker threads out of these tests (``GET /verify`` runs in one): while a thread works,
every task looks blocked and the autojump clock races ahead to the next deadline.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
import trio.testing
from prometheus_client import CollectorRegistry

from crypto.groups import load_group
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from node.config import DATA_DIR, NodeConfig
from node.home import NodeIdentity, load_identity
from node.http import ApiMetrics, build_app
from node.http.metrics import NodeCollector
from node.localstore import LocalStore
from node.p2p import P2PError
from node.service import NodeParts, NodeService, assemble, open_stores
from testnet.layout import Network, create_network
from tests.node.app_world import AppWorld

#: Generous bound, in virtual seconds, for anything that should happen "soon".
PATIENCE = 60.0


def mock_clock_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test under ``trio.run`` on ``MockClock(autojump_threshold=0)``: whenever
    every task waits, the clock jumps to the next deadline."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        clock = trio.testing.MockClock(autojump_threshold=0)
        trio.run(functools.partial(fn, *args, **kwargs), clock=clock)

    return wrapper


@dataclass
class Published:
    """What the gossip fallback would have published, in order."""

    frames: list[tuple[str, bytes]] = field(default_factory=list)

    async def publish(self, topic: str, data: bytes) -> None:
        self.frames.append((topic, data))


async def _no_link(index: int) -> Any:
    raise P2PError(f"node {index} is not reachable in this test")


@dataclass
class OneNode:
    """A running one-node network in process."""

    client: httpx.AsyncClient
    parts: NodeParts
    service: NodeService
    network: Network
    published: Published


@asynccontextmanager
async def one_node(directory: Path) -> AsyncIterator[OneNode]:
    """A one-node network under ``directory``, its parts running in a nursery of the caller's
    trio run; cancelled on the way out."""
    network = create_network(directory, 1, round_timeout_ms=500)
    identity = load_identity(network.directory / "node1")
    service = NodeService(identity)  # builds its host and peers; nothing listens
    published = Published()
    group = load_group(identity.config.pairing_backend)
    with open_stores(identity.home / DATA_DIR, identity.genesis) as (ledger, local):
        parts = assemble(
            identity,
            ledger,
            local,
            group,
            service.peers,
            service.catch_up,
            open_link=_no_link,
            publish=published.publish,
        )
        registry = CollectorRegistry()
        registry.register(NodeCollector(parts.view))
        app = build_app(parts.view, ApiMetrics(registry), max_body_bytes=64 * 1024 * 1024)
        transport = httpx.ASGITransport(app=app)
        async with trio.open_nursery() as nursery:
            await nursery.start(parts.run)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                yield OneNode(client, parts, service, network, published)
            nursery.cancel_scope.cancel()


class MemoryLink:
    """A link stream that hands each frame batch to the receiving node's consensus loop; a
    node that is down refuses it, as a broken stream would."""

    def __init__(self, network: MemoryNetwork, origin: int, target: int) -> None:
        self._network = network
        self._origin = origin
        self._target = target

    async def send(self, frame: bytes) -> None:
        parts = self._network.running.get(self._target)
        if parts is None:
            raise P2PError(f"node {self._target} is down")
        await parts.consensus.take_batch(frame, self._origin, f"node{self._origin}")

    async def close(self) -> None:
        return None


@dataclass
class MemoryNetwork:
    """The nodes of ``world``, each with fresh memory stores; :meth:`start` runs one."""

    world: AppWorld
    nursery: trio.Nursery
    parts: dict[int, NodeParts] = field(default_factory=dict)
    running: dict[int, NodeParts] = field(default_factory=dict)

    def identity(self, index: int) -> NodeIdentity:
        """Node ``index``'s identity in ``world`` (no home on disk: its stores are in memory)."""
        world = self.world
        return NodeIdentity(
            Path(),
            NodeConfig(p2p_listen="/ip4/127.0.0.1/tcp/0"),
            world.genesis,
            index,
            world.node_keys[index - 1],
            world.box_keys[index - 1],
        )

    def build(self, index: int) -> NodeParts:
        world = self.world
        identity = self.identity(index)
        service = NodeService(identity)

        async def open_link(target: int) -> MemoryLink:
            return MemoryLink(self, index, target)

        parts = assemble(
            identity,
            Ledger.from_store(MemoryStore(), world.genesis),
            LocalStore(MemoryStore()),
            world.group,
            service.peers,
            service.catch_up,
            open_link=open_link,
            publish=Published().publish,
            clock_ms=world.clock_ms,
        )
        self.parts[index] = parts
        return parts

    async def start(self, index: int) -> NodeParts:
        parts = self.parts.get(index) or self.build(index)
        await self.nursery.start(parts.run)
        self.running[index] = parts
        return parts

    def heights(self, nodes: Iterable[int]) -> list[int]:
        return [self.parts[i].app.ledger.height for i in nodes]


@asynccontextmanager
async def memory_network(world: AppWorld, up: Iterable[int]) -> AsyncIterator[MemoryNetwork]:
    """``world``'s nodes, those in ``up`` running; the others are down until started."""
    async with trio.open_nursery() as nursery:
        network = MemoryNetwork(world, nursery)
        for index in range(1, world.genesis.size + 1):
            network.build(index)
        for index in up:
            await network.start(index)
        yield network
        nursery.cancel_scope.cancel()
