"""A node's HTTP API over one application of the in-memory world, for admission tests.

:class:`StubService` has what :class:`node.live_view.LiveView` needs of a running node to take
``POST /tx`` (the ledger, the application, a pending pool, the catch-up tracker and a
submission sink), so it runs the real admission and error mapping in process, without sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from prometheus_client import CollectorRegistry

from consensus.item import Item
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from node.application import NodeApplication
from node.http import ApiMetrics, build_app
from node.live_view import LiveView
from node.localstore import LocalStore
from node.sync import CatchUp
from tests.node.app_world import AppWorld


class _Machine:
    def __init__(self) -> None:
        self.pool: set[bytes] = set()


class StubService:
    """Node ``index`` serving ``app``; ``catch_up`` says whether it is behind."""

    def __init__(self, app: NodeApplication, index: int) -> None:
        self.app = app
        self.machine = _Machine()
        self.catch_up = CatchUp(index)
        self.submitted: list[Item] = []

    def require(self) -> tuple[Ledger, NodeApplication, _Machine]:
        return self.app.ledger, self.app, self.machine

    def is_pending(self, item_id: bytes) -> bool:
        return item_id in self.machine.pool

    async def submit(self, item: Item) -> None:
        self.submitted.append(item)

    def fall_behind(self, peers_height: int) -> None:
        """Make this node have seen peers working at ``peers_height``."""
        self.catch_up.highest_seen = peers_height


def fresh_application(world: AppWorld, index: int = 1) -> NodeApplication:
    """Node ``index`` of ``world`` with an empty ledger: a node that has not synced anything."""
    return NodeApplication(
        Ledger.from_store(MemoryStore(), world.genesis),
        LocalStore(MemoryStore()),
        world.group,
        index,
        world.box_keys[index - 1],
        world.clock_ms,
    )


@asynccontextmanager
async def api_client(service: StubService) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(LiveView(service), ApiMetrics(CollectorRegistry()))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        yield client


async def post_tx(client: httpx.AsyncClient, raw: bytes) -> httpx.Response:
    return await client.post("/tx", json={"tx": raw.hex()})
