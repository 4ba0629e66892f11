"""The :class:`~node.view.NodeView` of a running node, over its services.

:class:`LiveView` answers the HTTP routes from the node's parts: the ledger and application,
the consensus task (submissions, pending items, commits), the fragment service and the peers.
It is where a route's question becomes the node's action: the admission checks of ``POST /tx``
run here, and refusals of the lower layers become the API's errors.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

import trio
from libp2p.peer.id import ID

from consensus import ConsensusNode
from consensus.item import Item
from crypto.errors import DecodeError
from ledger.genesis import Genesis
from ledger.ledger import Ledger
from node.application import NodeApplication
from node.http.errors import Conflict, InvalidInput, Syncing, Unavailable
from node.http.errors import error_for_status as api_error
from node.inbox import InboxFull
from node.p2p import P2PError
from node.peer_links import PeerLinks
from node.storage import PUT_PROTOCOL, FetchOutcome, FragmentKeeper, StorageRefused
from node.sync import CatchUp
from node.view import NetInfo, NodeGauges, NodeStatus, PeerState
from node.wire import FragmentGet, FragmentPut

logger = logging.getLogger("iomtshare.node.view")

#: Bound on one node-to-node storage request made while an HTTP client waits.
PEER_TIMEOUT_SECONDS = 4.0

T = TypeVar("T")


class _Host(Protocol):
    @property
    def peer_id(self) -> ID: ...


class RunningNode(Protocol):
    """What :class:`LiveView` reads of the running node."""

    genesis: Genesis
    index: int
    catch_up: CatchUp
    keeper: FragmentKeeper | None
    links: PeerLinks
    listen: list[str]
    evidence_seen: int

    @property
    def host(self) -> _Host: ...

    def require(self) -> tuple[Ledger, NodeApplication, ConsensusNode]: ...
    def peer_id_of(self, index: int) -> ID: ...
    def connected_indexes(self) -> list[int]: ...
    async def wait_commit(self, deadline: float) -> bool: ...
    async def submit(self, item: Item) -> None: ...
    def inbox_size(self) -> int: ...
    def is_pending(self, item_id: bytes) -> bool: ...
    async def request_peer(
        self, index: int, protocol: str, payload: bytes, timeout: float | None = None
    ) -> bytes: ...
    async def retry_behind(self, attempt: Callable[[], Awaitable[T]]) -> T: ...


class LiveView:
    """:class:`~node.view.NodeView` over a running node."""

    def __init__(self, node: RunningNode) -> None:
        self.node = node

    @property
    def genesis(self) -> Genesis:
        return self.node.genesis

    @property
    def ledger(self) -> Ledger:
        return self.node.require()[0]

    def status(self) -> NodeStatus:
        ledger, _, machine = self.node.require()
        head = ledger.head()
        connected = self.node.connected_indexes()
        return NodeStatus(
            chain_id=self.genesis.chain_id,
            genesis_hash=self.genesis.hash().hex(),
            node_index=self.node.index,
            peer_id=str(self.node.host.peer_id),
            height=head.height,
            head_hash=head.block_hash.hex(),
            head_time_ms=head.time_ms,
            peers_connected=len(connected),
            peers=tuple(str(self.node.peer_id_of(i)) for i in connected),
            round=machine.round,
            pending=len(machine.pool),
            syncing=self.node.catch_up.syncing(head.height),
        )

    def net_info(self) -> NetInfo:
        connected = set(self.node.connected_indexes())
        peers = tuple(
            PeerState(n.index, str(self.node.peer_id_of(n.index)), n.index in connected)
            for n in self.genesis.nodes
            if n.index != self.node.index
        )
        return NetInfo(tuple(self.node.listen), peers)

    def gauges(self) -> NodeGauges:
        ledger, _, machine = self.node.require()
        links = self.node.links
        return NodeGauges(
            height=ledger.height,
            round=machine.round,
            pending_items=len(machine.pool),
            peers_connected=len(self.node.connected_indexes()),
            audit_length=ledger.head().audit_length,
            inbox_items=self.node.inbox_size(),
            evidence=self.node.evidence_seen,
            link_queued={peer: links.queued(peer) for peer in links.peers},
            link_dropped={peer: links.dropped(peer) for peer in links.peers},
        )

    async def submit_transaction(self, raw: bytes) -> str:
        ledger, app, _ = self.node.require()
        try:
            # Decoded here once; consensus and the block get this item, named by its tx id.
            item = app.client_item(raw)
        except DecodeError as exc:
            raise InvalidInput(f"not a transaction: {exc}", "malformed") from exc
        if self.node.is_pending(item.item_id):
            raise Conflict("transaction is already pending", "duplicate")
        problem = app.item_problem(item)
        if problem is not None:
            if problem.state_dependent and self.node.catch_up.syncing(ledger.height):
                raise Syncing(f"node is catching up with the chain; retry ({problem.message})")
            raise api_error(problem.status, problem.code, problem.message)
        # Held from now on, not only once consensus has taken the request in: a second
        # request with the same nonce right behind this one is a replay too.
        app.hold_nonce(item)
        try:
            await self.node.submit(item)
        except InboxFull as exc:
            raise Unavailable(str(exc)) from exc
        return item.item_id.hex()

    async def wait_commit(self, deadline: float) -> bool:
        return await self.node.wait_commit(deadline)

    def request_pending(self, request_id: bytes) -> bool:
        return self.node.is_pending(request_id)

    def denial_reason(self, request_id: bytes) -> str | None:
        return self.node.require()[1].denial_reasons.get(request_id)

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        keeper = self._keeper()
        try:
            keeper.store_upload(record_id, fragments)
        except StorageRefused as exc:
            if exc.status == 404 and self.node.catch_up.syncing(self.ledger.height):
                raise Syncing("record not committed here yet: this node is catching up") from exc
            raise api_error(exc.status, exc.code, exc.message) from exc
        stored = 1

        async def hand(index: int) -> None:
            nonlocal stored
            put = FragmentPut(record_id, fragments[index - 1])
            try:
                await self.node.request_peer(
                    index, PUT_PROTOCOL, put.to_bytes(), PEER_TIMEOUT_SECONDS
                )
            except P2PError as exc:
                logger.warning("fragment not handed over node=%d reason=%s", index, exc)
                return
            stored += 1

        connected = set(self.node.connected_indexes())
        async with trio.open_nursery() as nursery:
            for index in range(1, self.genesis.size + 1):
                if index == self.node.index:
                    continue
                if index in connected:
                    nursery.start_soon(hand, index)
                else:
                    logger.warning("fragment not handed over node=%d reason=not connected", index)
        if stored < self.genesis.threshold:
            raise Unavailable(
                f"only {stored} nodes took their fragment; {self.genesis.threshold} needed"
            )
        return stored

    async def fetch(self, fetch: FragmentGet) -> FetchOutcome:
        keeper = self._keeper()
        peers = [i for i in self.node.connected_indexes() if i != self.node.index]

        async def fetch_from(index: int, protocol: str, payload: bytes) -> bytes:
            return await self.node.request_peer(index, protocol, payload, PEER_TIMEOUT_SECONDS)

        try:
            return await self.node.retry_behind(lambda: keeper.fetch(fetch, peers, fetch_from))
        except StorageRefused as exc:
            raise api_error(exc.status, exc.code, exc.message) from exc

    def _keeper(self) -> FragmentKeeper:
        keeper = self.node.keeper
        if keeper is None:
            raise Unavailable("node is starting")
        return keeper

