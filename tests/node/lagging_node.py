"""A node's HTTP API over one application of the in-memory world, for admission tests.

:class:`StubService` stands in for the consensus loop (a pending pool, a submission sink and a
backlog to report) and holds the catch-up tracker; the real :class:`node.live_view.LiveView`
over it and the application takes ``POST /tx``, so the real admission and error mapping run in
process, without sockets. Only ``POST /tx`` is served: the view has no storage, peers or links
here.
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


class StubService:
    """Node ``index`` serving ``app``; ``catch_up`` says whether it is behind."""

    def __init__(self, app: NodeApplication, index: int) -> None:
        self.app = app
        self.pool: set[bytes] = set()
        self.catch_up = CatchUp(index)
        self.submitted: list[Item] = []
        #: What :meth:`backlog` reports: undecided items, and the wait (s) of the one as deep
        #: as asked.
        self.waiting: tuple[int, float] = (0, 0.0)

    def backlog(self, depth: int) -> tuple[int, float]:
        return self.waiting

    def is_pending(self, item_id: bytes) -> bool:
        return item_id in self.pool

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
    view = LiveView(service.app, service, None, None, None, service.catch_up)  # type: ignore[arg-type]
    app = build_app(view, ApiMetrics(CollectorRegistry()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        yield client


async def post_tx(client: httpx.AsyncClient, raw: bytes) -> httpx.Response:
    return await client.post("/tx", json={"tx": raw.hex()})
