"""In-process nodes that can crash and restart over the stores they had, on trio's MockClock.

Like :class:`tests.node.inprocess.MemoryNetwork` (real parts, frames handed straight to the
receiving node's consensus loop), but each node keeps its ledger and node-local memory stores
for its whole life, runs in its own cancel scope, and can be given its own wall clock:

* :meth:`RestartableNetwork.crash` cancels a node's parts at once (nothing is flushed or closed:
  what the stores hold is what a crash would leave);
* :meth:`RestartableNetwork.start` builds fresh parts over the node's stores and runs them,
  which is a first start or a restart;
* :meth:`RestartableNetwork.client` is an HTTP client on the running node's API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio
from prometheus_client import CollectorRegistry

from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from node.http import ApiMetrics, build_app
from node.localstore import LocalStore
from node.pending_pool import SubmissionLimits
from node.service import NodeParts, NodeService, assemble
from tests.node.app_world import AppWorld
from tests.node.inprocess import PATIENCE, MemoryLink, MemoryNetwork, Published


async def _cancellable(parts: NodeParts, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(parts.run)
            task_status.started(scope)


@dataclass
class RestartableNetwork(MemoryNetwork):
    """The nodes of ``world``, each over its own stores for good; see the module docstring."""

    stores: dict[int, tuple[MemoryStore, MemoryStore]] = field(default_factory=dict)
    scopes: dict[int, trio.CancelScope] = field(default_factory=dict)
    #: A node's own wall clock (ms), instead of the world's.
    clocks: dict[int, Callable[[], int]] = field(default_factory=dict)
    limits: SubmissionLimits | None = None

    def build(self, index: int) -> NodeParts:
        world = self.world
        identity = self.identity(index)
        service = NodeService(identity)

        async def open_link(target: int) -> MemoryLink:
            return MemoryLink(self, index, target)

        chain, local = self.stores.setdefault(index, (MemoryStore(), MemoryStore()))
        parts = assemble(
            identity,
            Ledger.from_store(chain, world.genesis),
            LocalStore(local, submission_limits=self.limits),
            world.group,
            service.peers,
            service.catch_up,
            open_link=open_link,
            publish=Published().publish,
            clock_ms=self.clocks.get(index, world.clock_ms),
        )
        self.parts[index] = parts
        return parts

    async def start(self, index: int) -> NodeParts:
        """Start node ``index`` on fresh parts over its stores (a restart if it ran before)."""
        if index in self.running:
            raise RuntimeError(f"node {index} is running")
        parts = self.build(index)
        self.scopes[index] = await self.nursery.start(_cancellable, parts)
        self.running[index] = parts
        return parts

    def crash(self, index: int) -> None:
        """Stop node ``index`` at once; peers' links to it fail from now on."""
        del self.running[index]
        self.scopes.pop(index).cancel()

    @asynccontextmanager
    async def client(self, index: int) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client on the API of running node ``index``."""
        app = build_app(self.running[index].view, ApiMetrics(CollectorRegistry()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            yield client

    async def until(self, done: Callable[[], bool]) -> None:
        """Wait (virtual time, bounded) until ``done()``."""
        with trio.fail_after(PATIENCE):
            while not done():
                await trio.sleep(0.05)

    def committed(self, tx_id: bytes, nodes: list[int]) -> bool:
        return all(self.parts[i].app.ledger.has_transaction(tx_id) for i in nodes)


@asynccontextmanager
async def restartable_network(
    world: AppWorld,
    *,
    clocks: dict[int, Callable[[], int]] | None = None,
    limits: SubmissionLimits | None = None,
) -> AsyncIterator[RestartableNetwork]:
    """``world``'s nodes over stores of their own, all started; cancelled on the way out."""
    async with trio.open_nursery() as nursery:
        network = RestartableNetwork(world, nursery, clocks=clocks or {}, limits=limits)
        for index in range(1, world.genesis.size + 1):
            await network.start(index)
        yield network
        nursery.cancel_scope.cancel()
