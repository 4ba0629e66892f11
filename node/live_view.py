"""The :class:`~node.view.NodeView` of a running node, over its services.

:class:`LiveView` answers the HTTP routes from the node's parts: the ledger and application,
the consensus task (submissions, pending items, commits), the fragment service and the peers.
It is where a route's question becomes the node's action: the admission checks of ``POST /tx``
run here, and refusals of the lower layers become the API's errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto.errors import DecodeError
from ledger.genesis import Genesis
from ledger.ledger import Ledger
from node.application import NodeApplication
from node.buildinfo import build_info
from node.consensus_loop import ConsensusLoop
from node.fragment_service import FragmentService
from node.http.errors import Busy as BusyError
from node.http.errors import Conflict, InvalidInput, Syncing, Unavailable
from node.http.errors import error_for_status as api_error
from node.inbox import InboxFull
from node.peer_links import PeerLinks
from node.peers import Peers
from node.pending_pool import CannotAccept
from node.shedding import Busy, Shedding
from node.storage import FetchOutcome, StorageRefused
from node.sync import CatchUp
from node.view import NetInfo, NodeGauges, NodeStatus, PeerState
from node.wire import FragmentGet


class LiveView:
    """:class:`~node.view.NodeView` over a running node's parts."""

    def __init__(
        self,
        app: NodeApplication,
        consensus: ConsensusLoop,
        storage: FragmentService,
        peers: Peers,
        links: PeerLinks,
        catch_up: CatchUp,
        shedding: Shedding | None = None,
    ) -> None:
        self._app = app
        self._consensus = consensus
        self._storage = storage
        self._peers = peers
        self._links = links
        self._catch_up = catch_up
        self._shedding = shedding or Shedding()
        #: Client submissions refused as busy since the start (:mod:`node.shedding`).
        self.refused_busy = 0

    @property
    def genesis(self) -> Genesis:
        return self._app.ledger.genesis

    @property
    def ledger(self) -> Ledger:
        return self._app.ledger

    def status(self) -> NodeStatus:
        head = self.ledger.head()
        machine = self._consensus.machine
        connected = self._peers.connected()
        return NodeStatus(
            chain_id=self.genesis.chain_id,
            genesis_hash=self.genesis.hash().hex(),
            node_index=self._peers.index,
            peer_id=str(self._peers.own_id),
            height=head.height,
            head_hash=head.block_hash.hex(),
            head_time_ms=head.time_ms,
            peers_connected=len(connected),
            peers=tuple(str(self._peers.peer_id_of(i)) for i in connected),
            round=machine.round,
            pending=len(machine.pool),
            syncing=self._catch_up.syncing(head.height),
        )

    def net_info(self) -> NetInfo:
        connected = set(self._peers.connected())
        peers = tuple(
            PeerState(i, str(self._peers.peer_id_of(i)), i in connected)
            for i in self._peers.others()
        )
        return NetInfo(self._peers.listen(), peers)

    def gauges(self) -> NodeGauges:
        ledger, links = self.ledger, self._links
        return NodeGauges(
            height=ledger.height,
            round=self._consensus.machine.round,
            pending_items=len(self._consensus.machine.pool),
            peers_connected=len(self._peers.connected()),
            audit_length=ledger.head().audit_length,
            inbox_items=self._consensus.inbox_size(),
            evidence=self._consensus.evidence_seen,
            refused_busy=self.refused_busy,
            link_queued={peer: links.queued(peer) for peer in links.peers},
            link_dropped={peer: links.dropped(peer) for peer in links.peers},
            consensus=self._consensus.stats.snapshot(),
            build=build_info(self._app.shares.group.name),
        )

    async def submit_transaction(self, raw: bytes) -> str:
        ledger, app, consensus = self.ledger, self._app, self._consensus
        try:
            # Before anything costs the node: shedding load must be cheap.
            self._shedding.check(consensus.backlog(self._shedding.min_items))
        except Busy as exc:
            self.refused_busy += 1
            raise BusyError(str(exc)) from exc
        try:
            # Decoded here once; consensus and the block get this item, named by its tx id.
            item = app.client_item(raw)
        except DecodeError as exc:
            raise InvalidInput(f"not a transaction: {exc}", "malformed") from exc
        if consensus.is_pending(item.item_id):
            raise Conflict("transaction is already pending", "duplicate")
        problem = app.item_problem(item)
        if problem is not None:
            if problem.state_dependent and self._catch_up.syncing(ledger.height):
                raise Syncing(f"node is catching up with the chain; retry ({problem.message})")
            raise api_error(problem.status, problem.code, problem.message)
        # Held from now on, not only once consensus has taken the request in: a second
        # request with the same nonce right behind this one is a replay too.
        app.hold_nonce(item)
        try:
            # Durable before the 202: the item is on disk once this returns.
            await consensus.submit(item)
        except (InboxFull, CannotAccept) as exc:
            raise Unavailable(str(exc)) from exc
        return item.item_id.hex()

    async def wait_commit(self, deadline: float) -> bool:
        return await self._consensus.wait_commit(deadline)

    def submission_pending(self, tx_id: bytes) -> bool:
        return self._consensus.is_pending(tx_id)

    def dropped_reason(self, tx_id: bytes) -> str | None:
        return self._consensus.pending.dropped_reason(tx_id)

    def denial_reason(self, request_id: bytes) -> str | None:
        return self._app.denial_reasons.get(request_id)

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        try:
            return await self._storage.store_upload(record_id, fragments)
        except StorageRefused as exc:
            if exc.status == 404 and self._catch_up.syncing(self.ledger.height):
                raise Syncing("record not committed here yet: this node is catching up") from exc
            raise api_error(exc.status, exc.code, exc.message) from exc

    async def fetch(self, fetch: FragmentGet) -> FetchOutcome:
        try:
            return await self._storage.fetch(fetch)
        except StorageRefused as exc:
            raise api_error(exc.status, exc.code, exc.message) from exc
