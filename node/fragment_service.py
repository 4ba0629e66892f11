"""Fragment storage as one of the node's services: the storage protocols and the bulk-data
paths that start on this node (an owner's upload, a requester's granted fetch).

The rules of what is kept and served live in :class:`~node.storage.FragmentKeeper`; this service
puts them on the network. It answers peers on ``PUT_PROTOCOL`` and ``GET_PROTOCOL`` once
running, hands each peer its fragment of an upload, and gathers fragments for a fetch. Fragment
puts come from genesis nodes only; fragment gets from genesis nodes and genesis edges (an edge
relays a requester's fetch, :mod:`node.edge.fetch_relay`): either way this node checks the
requester's access token in full before it hands out its fragment; each edge may ask
:data:`EDGE_GET_BURST` times at once, then :data:`EDGE_GETS_PER_SECOND` (the headers
protocol's token buckets), and is refused ``REJECTED`` beyond that. A fetch
refused for want of a grant, or naming a decision this node has not committed, is retried as
this node commits blocks for a few seconds: the requester may have learnt of its decision from
a node further ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import trio
from libp2p.peer.id import ID
from prometheus_client import CollectorRegistry

from ledger.genesis import Genesis
from node.edge.protocol import HeaderRequestGate
from node.p2p import P2PError, P2PHost, RequestRejected
from node.peers import Peers
from node.storage import (
    GET_PROTOCOL,
    PUT_PROTOCOL,
    FetchOutcome,
    FragmentKeeper,
    StorageRefused,
)
from node.wire import FragmentGet, FragmentPut

logger = logging.getLogger("iomtshare.node.fragments")

#: Bound on one node-to-node storage request made while an HTTP client waits.
PEER_TIMEOUT_SECONDS = 4.0
#: How long a fetch refused with one of :data:`CATCH_UP_CODES` waits for this node to commit
#: the grant or decision it lacks.
CATCH_UP_GRACE_SECONDS = 3.0
CATCH_UP_CODES = frozenset({"not_granted", "decision_unknown"})
#: Fragment gets served per genesis edge (each costs a signature check and ledger reads): a
#: burst of this many, then as many a second. An edge relays one get per fetch to t nodes.
EDGE_GET_BURST = 32
EDGE_GETS_PER_SECOND = 16.0
#: A fragment get is a record id and an access token (at most 512 bytes): refuse more unread.
MAX_GET_REQUEST_BYTES = 2048

T = TypeVar("T")

#: ``wait_commit(deadline)``: wait for the next committed block; False once ``deadline`` passed.
WaitCommit = Callable[[float], Awaitable[bool]]


class FragmentService:
    """This node's side of erasure-coded storage over ``peers``; see the module docstring."""

    def __init__(
        self,
        keeper: FragmentKeeper,
        genesis: Genesis,
        peers: Peers,
        wait_commit: WaitCommit,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.keeper = keeper
        #: The per-edge rate limit of fragment gets (its ``refused`` counts refusals by edge).
        self.edge_gate = HeaderRequestGate(EDGE_GET_BURST, EDGE_GETS_PER_SECOND, kind="fragment")
        self._clock = clock
        self._threshold = genesis.threshold
        self._peers = peers
        self._wait_commit = wait_commit
        self._edges = frozenset(edge.peer_id for edge in genesis.edges)
        self._serving = False

    def count_edge_refusals(self, registry: CollectorRegistry) -> None:
        """Export the edge gate's refusals in ``registry`` (the HTTP API's ``/metrics``)."""
        self.edge_gate = HeaderRequestGate(
            EDGE_GET_BURST, EDGE_GETS_PER_SECOND, registry, kind="fragment"
        )

    def register(self, host: P2PHost) -> None:
        """Serve the storage protocols on ``host`` (before it runs); peers are answered
        "starting" until :meth:`run` has started."""
        host.add_protocol(PUT_PROTOCOL, self._on_put)
        host.add_protocol(GET_PROTOCOL, self._on_get, MAX_GET_REQUEST_BYTES)

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Answer peers until cancelled."""
        self._serving = True
        try:
            task_status.started()
            await trio.sleep_forever()
        finally:
            self._serving = False

    async def store_upload(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        """Check an owner's fragments against the committed record, keep this node's, hand
        fragment ``j`` to node ``j``; returns how many nodes took theirs. Raises
        :class:`StorageRefused` (see :meth:`FragmentKeeper.store_upload`; 503 when fewer than
        the threshold of nodes took theirs)."""
        self.keeper.store_upload(record_id, fragments)
        stored = 1

        async def hand(index: int) -> None:
            nonlocal stored
            put = FragmentPut(record_id, fragments[index - 1])
            try:
                await self._peers.request(index, PUT_PROTOCOL, put.to_bytes(), PEER_TIMEOUT_SECONDS)
            except P2PError as exc:
                logger.warning("fragment not handed over node=%d reason=%s", index, exc)
                return
            stored += 1

        connected = set(self._peers.connected())
        async with trio.open_nursery() as nursery:
            for index in self._peers.others():
                if index in connected:
                    nursery.start_soon(hand, index)
                else:
                    logger.warning("fragment not handed over node=%d reason=not connected", index)
        if stored < self._threshold:
            message = f"only {stored} nodes took their fragment; {self._threshold} needed"
            raise StorageRefused(503, "unavailable", message)
        return stored

    async def fetch(self, fetch: FragmentGet) -> FetchOutcome:
        """Gather ``t`` fragments for ``fetch`` and rebuild the data; raises
        :class:`StorageRefused` (see :meth:`FragmentKeeper.fetch`)."""
        peers = [i for i in self._peers.connected() if i != self._peers.index]

        async def fetch_from(index: int, protocol: str, payload: bytes) -> bytes:
            return await self._peers.request(index, protocol, payload, PEER_TIMEOUT_SECONDS)

        return await self._retry_behind(lambda: self.keeper.fetch(fetch, peers, fetch_from))

    async def _retry_behind(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt``; while it is refused for lack of a grant or decision, give this node
        :data:`CATCH_UP_GRACE_SECONDS` to commit the block that may hold it."""
        deadline = trio.current_time() + CATCH_UP_GRACE_SECONDS
        while True:
            try:
                return await attempt()
            except StorageRefused as exc:
                if exc.code not in CATCH_UP_CODES or not await self._wait_commit(deadline):
                    raise

    async def _on_put(self, peer: ID, payload: bytes) -> bytes:
        uploader = self._sender(peer)
        try:
            return await self.keeper.serve_put(payload, uploader)
        except StorageRefused as exc:
            raise RequestRejected(exc.detail) from exc

    async def _on_get(self, peer: ID, payload: bytes) -> bytes:
        # A genesis edge may ask too: the token, not the asker, is what authorizes the fetch.
        if str(peer) not in self._edges:
            self._sender(peer)
        elif not self._serving:
            raise RequestRejected("node is starting")
        else:
            self.edge_gate.check(str(peer), self._clock())
        try:
            return await self._retry_behind(lambda: self.keeper.serve_get(payload))
        except StorageRefused as exc:
            raise RequestRejected(exc.detail) from exc

    def _sender(self, peer: ID) -> int:
        if not self._serving:
            raise RequestRejected("node is starting")
        index = self._peers.index_of(peer)
        if index is None:  # the allowlist admits genesis nodes only; this is a second guard
            raise RequestRejected("not a genesis node")
        return index
