"""The node process: libp2p host, consensus state machine, ledger and HTTP API on one trio loop.

One task owns the :class:`~consensus.machine.ConsensusNode`: every input (a peer's message, a
client submission, a due timer) goes through one queue to it, and it carries out the returned
:class:`~consensus.output.Output` without blocking: messages are queued on the node's
:class:`~node.peer_links.PeerLinks` (an ordered one-way stream straight to each peer on
``CONSENSUS_PROTOCOL``), each timer becomes a task that sleeps until its deadline and feeds the
timer back, and committed blocks wake the HTTP requests waiting for them.

A client's submission that is still pending a few seconds after the node took it is also
published on gossipsub (``TX_TOPIC``), so it still spreads through the mesh when a direct link
to some peer is down; a copy that arrives twice is ignored by consensus. Votes, claims and
proposals travel on the direct links only: gossipsub hops cost tens of milliseconds each in
py-libp2p, and a decision takes about seven hops.

Two clocks, kept apart: consensus runs on trio's clock (``trio.current_time()``), which it uses
only to set and compare its own deadlines, so a test can run the node on
``trio.testing.MockClock``; block times and request freshness are wall-clock milliseconds
(``node.home.wall_ms``), read by the application, because they go into the ledger.

Start it with ``await nursery.start(service.run)``; cancelling the nursery stops everything
(the ledger and local store are closed on the way out).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio
from libp2p.peer.id import ID

from consensus import (
    ConsensusConfig,
    ConsensusNode,
    Ed25519Signer,
    Ed25519Verifier,
    Message,
    Output,
    Timer,
    decode_message,
)
from consensus.item import Item
from consensus.messages import AuthVote, Submission, SyncReply
from crypto.errors import DecodeError
from crypto.groups import load_group
from ledger.ledger import Ledger
from ledger.qc import access_vote_payload, commit_vote_payload
from node.application import NodeApplication
from node.config import DATA_DIR
from node.home import NodeIdentity, listen_endpoint, timeouts_of, wall_ms
from node.http import HttpApi, HttpConfig
from node.inbox import Inbox, InboxFull
from node.live_view import LiveView
from node.localstore import LocalStore
from node.p2p import (
    FrameReader,
    FrameWriter,
    GossipMessage,
    GossipSettings,
    P2PConfig,
    P2PError,
    P2PHost,
    PeerAllowlist,
    ProtocolViolation,
    RequestRejected,
    parse_peer_id,
)
from node.peer_links import PeerLinks
from node.storage import GET_PROTOCOL, PUT_PROTOCOL, FragmentKeeper, StorageRefused
from node.sync import CatchUp, split_reply
from node.wire import FrameBatch

logger = logging.getLogger("iomtshare.node.service")

CONSENSUS_PROTOCOL = "/iomtshare/consensus/1"
CONSENSUS_TOPIC = "iomtshare/consensus/1"
TX_TOPIC = "iomtshare/tx/1"

_INBOX_SIZE = 4096
_GOSSIP_QUEUE = 1024
# A client's item still pending after this long is also published on gossip.
_GOSSIP_FALLBACK_SECONDS = 3.0
_DIAL_BACKOFF_MAX = 5.0
_CATCH_UP_GRACE_SECONDS = 3.0
_MAX_FRAME = 24 * 1024 * 1024
# A proposal carries its whole block: up to 32 items of at most 128 KiB, plus votes and shares.
_MAX_GOSSIP = 8 * 1024 * 1024

T = TypeVar("T")


class NodeService:
    """A running node; see the module docstring. Read-only state is public for the HTTP API."""

    def __init__(self, identity: NodeIdentity) -> None:
        self.identity = identity
        self.genesis = identity.genesis
        self.index = identity.index
        self.ledger: Ledger | None = None
        self.app: NodeApplication | None = None
        self.machine: ConsensusNode | None = None
        self.keeper: FragmentKeeper | None = None
        self.listen: list[str] = []
        self.http_urls: list[str] = []
        self.catch_up = CatchUp(identity.index)
        self._submitted: set[bytes] = set()
        #: Misbehaviour evidence (equivocation, bad shares) this node has gathered.
        self.evidence_seen = 0
        self._commit_event = trio.Event()
        # Inputs of the consensus task, each with the index of the node it came from (if known).
        self._inbox: Inbox[tuple[Message | Item | Timer, int | None]] = Inbox(_INBOX_SIZE)
        self._peer_ids = {n.index: parse_peer_id(n.peer_id) for n in self.genesis.nodes}
        self.links = PeerLinks((i for i in self._peer_ids if i != self.index), self._open_link)
        # Transactions published on gossip; a slow mesh must not hold up the consensus task.
        self._tx_send, self._tx_out = trio.open_memory_channel[bytes](_GOSSIP_QUEUE)
        self._index_of = {p: i for i, p in self._peer_ids.items()}
        host, port = listen_endpoint(identity.config.p2p_listen)
        allowlist = PeerAllowlist.of(p for i, p in self._peer_ids.items() if i != self.index)
        # Frames carry whole storage fragments: a 64 MiB HTTP upload of hex holds 32 MiB of
        # fragments, so one fragment stays well under this bound for any n >= 2.
        p2p_config = P2PConfig(
            listen_host=host,
            listen_port=port,
            max_frame_bytes=_MAX_FRAME,
            gossip=GossipSettings(max_message_bytes=_MAX_GOSSIP),
        )
        self.host = P2PHost(identity.node_key, allowlist, p2p_config)
        self.host.add_topic(CONSENSUS_TOPIC, self._on_gossip)
        self.host.add_topic(TX_TOPIC, self._on_gossip)
        self.host.add_stream_protocol(CONSENSUS_PROTOCOL, self._serve_link)
        self.host.add_protocol(PUT_PROTOCOL, self._on_fragment_put)
        self.host.add_protocol(GET_PROTOCOL, self._on_fragment_get)

    # -- lifecycle ----------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Open the stores, start p2p, consensus and HTTP; report the HTTP URLs; run until
        cancelled. Raises ``ledger.errors.LedgerError``, :class:`P2PError` or ``OSError`` when
        the node cannot start."""
        data = self.identity.home / DATA_DIR
        data.mkdir(parents=True, exist_ok=True)
        group = load_group(self.identity.config.pairing_backend)
        # The fixed-base tables cost ~40 ms on first use; pay it now, not on the first request.
        group.warm_up()
        ledger = Ledger.open(data / "ledger", self.genesis)
        try:
            local = LocalStore.open(data / "node")
        except BaseException:
            ledger.close()
            raise
        try:
            self.ledger = ledger
            self.app = NodeApplication(
                ledger,
                local,
                group,
                self.index,
                self.identity.box_key,
                wall_ms,
            )
            self.keeper = FragmentKeeper(ledger, local, self.index, wall_ms)
            config = ConsensusConfig(
                self.genesis.chain_id,
                self.genesis.size,
                self.genesis.quorum,
                timeouts_of(self.genesis),
            )
            self.machine = ConsensusNode.create(
                config,
                self.index,
                Ed25519Signer(self.identity.node_key),
                Ed25519Verifier([n.signer() for n in self.genesis.nodes]),
                self.app,
                commit_vote_payload,
                access_vote_payload,
            )
            async with trio.open_nursery() as nursery:
                addrs = await nursery.start(self.host.run)
                self.listen = [str(a) for a in addrs]
                self.http_urls = await nursery.start(HttpApi(LiveView(self), self._http()).run)
                nursery.start_soon(self._dial_peers)
                await nursery.start(self.links.run)
                nursery.start_soon(self._publish_loop)
                nursery.start_soon(self._consensus_loop, nursery)
                logger.info(
                    "node started index=%d height=%d peer=%s http=%s",
                    self.index,
                    ledger.height,
                    self.host.peer_id,
                    self.http_urls,
                )
                task_status.started(self.http_urls)
        finally:
            logger.info("node stopping index=%d", self.index)
            local.close()
            ledger.close()

    def _http(self) -> HttpConfig:
        config = self.identity.config
        allow_public = bool(config.extra.get("http_allow_public", False))
        return HttpConfig(host=config.http_host, port=config.http_port, allow_public=allow_public)

    # -- state for the API --------------------------------------------------------------------

    def require(self) -> tuple[Ledger, NodeApplication, ConsensusNode]:
        if self.ledger is None or self.app is None or self.machine is None:
            raise RuntimeError("node is not running")
        return self.ledger, self.app, self.machine

    def peer_id_of(self, index: int) -> ID:
        return self._peer_ids[index]

    def connected_indexes(self) -> list[int]:
        connected = self.host.connected_peers()
        return sorted(i for i, p in self._peer_ids.items() if p in connected)

    async def wait_commit(self, deadline: float) -> bool:
        """Wait for the next committed block until ``deadline`` (trio time); False on timeout."""
        event = self._commit_event
        with trio.move_on_at(deadline):
            await event.wait()
            return True
        return False

    async def submit(self, item: Item) -> None:
        """Hand a client's item to consensus (the caller decoded and checked it); raises
        :class:`InboxFull` when the node is too busy to take it."""
        if not self._enqueue(item, None):
            raise InboxFull("the node is too busy to take submissions; retry later")
        self._submitted.add(item.item_id)

    def inbox_size(self) -> int:
        return len(self._inbox)

    def is_pending(self, item_id: bytes) -> bool:
        """Whether a consensus item waits here: in the pool, or still in the inbox."""
        _, _, machine = self.require()
        return item_id in machine.pool or item_id in self._submitted

    async def request_peer(
        self, index: int, protocol: str, payload: bytes, timeout: float | None = None
    ) -> bytes:
        """One request to node ``index``; raises :class:`P2PError`."""
        peer = self._peer_ids.get(index)
        if peer is None:
            raise P2PError(f"no node {index}")
        return await self.host.request(peer, protocol, payload, timeout)

    # -- consensus ----------------------------------------------------------------------------

    async def _consensus_loop(self, nursery: trio.Nursery) -> None:
        _, _, machine = self.require()
        self._carry_out(machine.start(trio.current_time()), nursery)
        while True:
            item, origin = await self._inbox.get()
            if isinstance(item, Item):
                self._submitted.discard(item.item_id)
            started = time.perf_counter()
            try:
                if isinstance(item, Timer):
                    out = machine.on_timer(item, trio.current_time())
                else:
                    out = machine.on_message(item, trio.current_time())
                logger.debug(
                    "step input=%s from=%s took_ms=%.2f queued=%d",
                    item.kind.name if isinstance(item, Timer) else type(item).__name__,
                    origin,
                    (time.perf_counter() - started) * 1e3,
                    len(self._inbox),
                )
            except Exception:
                # A fault in one input (a bug, or a ledger refusing a block) must not take the
                # node down; the machine's state is unchanged by the failed step's effects.
                logger.exception("consensus step failed input=%s", type(item).__name__)
                continue
            self._carry_out(out, nursery)
            if isinstance(item, Item) and item.item_id in machine.pool:
                nursery.start_soon(self._gossip_if_stuck, item)
            if origin is not None and not isinstance(item, Timer):
                follow = self.catch_up.follow_up(item, out, machine.height)
                if follow is not None and origin in self.links.peers:
                    self.links.send(origin, follow.to_bytes())

    def _carry_out(self, out: Output, nursery: trio.Nursery) -> None:
        _, app, _ = self.require()
        for send in out.sends:
            message = send.message
            pieces = split_reply(message) if isinstance(message, SyncReply) else [message]
            for piece in pieces:
                frame = piece.to_bytes()
                if send.to is None:
                    self.links.broadcast(frame)
                elif send.to in self.links.peers:
                    self.links.send(send.to, frame)
        for timer in out.timers:
            nursery.start_soon(self._timer, timer)
        for block in out.commits:
            logger.info(
                "block committed height=%d round=%d hash=%s signers=%s",
                block.height,
                block.round,
                block.block_hash.hex()[:16],
                list(block.signers),
            )
        for event in out.trace:
            logger.debug("consensus %s", event)
        for evidence in out.evidence:
            self.evidence_seen += 1
            logger.warning(
                "misbehaviour evidence kind=%s offender=%d",
                type(evidence).__name__,
                evidence.offender,
            )
        if out.commits or app.dropped:
            self._purge_pool()
        if out.commits:
            self._commit_event.set()
            self._commit_event = trio.Event()

    def _purge_pool(self) -> None:
        """Drop pending items that can no longer enter a block, so rounds are not wasted on
        them (see :meth:`NodeApplication.stale_items`)."""
        _, app, machine = self.require()
        stale = app.stale_items(machine.pool.items())
        if stale:
            logger.info("pending items dropped count=%d", len(stale))
            # The pool is the machine's public attribute; consensus has no removal input.
            machine.pool.remove(tuple(stale))

    def _enqueue(self, item: Message | Item | Timer, origin: int | None) -> bool:
        """Queue an input for the consensus task (round traffic first); False if it was
        dropped because the inbox is full (logged)."""
        urgent = not isinstance(item, Submission | Item | AuthVote)
        try:
            self._inbox.put_nowait((item, origin), urgent=urgent)
        except InboxFull:
            logger.warning("consensus inbox full; dropped %s", type(item).__name__)
            return False
        return True

    async def _timer(self, timer: Timer) -> None:
        await trio.sleep_until(timer.deadline)
        self._enqueue(timer, None)

    def _accept_frame(self, data: bytes, origin: str) -> Message | None:
        try:
            message = decode_message(data)
        except DecodeError as exc:
            logger.warning("bad consensus message from=%s reason=%s", origin, exc)
            return None
        self.catch_up.observe(message)
        return message

    async def _on_gossip(self, gossip: GossipMessage) -> None:
        message = self._accept_frame(gossip.data, str(gossip.origin))
        if message is None:
            return
        self._enqueue(message, self._index_of.get(gossip.origin))

    async def _serve_link(self, peer: ID, reader: FrameReader) -> None:
        """Read a peer's link stream: queue each :class:`FrameBatch`'s messages for consensus.

        While the inbox has no room for a whole batch this stops reading, which holds the
        sender back (see :mod:`node.peer_links`). A malformed message inside a well-formed
        batch is logged and skipped; a malformed batch ends the stream.
        """
        origin = self._index_of.get(peer)
        async for payload in reader:
            try:
                batch = FrameBatch.from_bytes(payload)
            except DecodeError as exc:
                raise ProtocolViolation(f"malformed frame batch: {exc}") from exc
            await self._inbox.wait_for_room(len(batch.frames))
            for frame in batch.frames:
                message = self._accept_frame(frame, str(peer))
                if message is not None:
                    self._enqueue(message, origin)

    async def _open_link(self, index: int) -> FrameWriter:
        return await self.host.open_stream(self._peer_ids[index], CONSENSUS_PROTOCOL)

    async def _gossip_if_stuck(self, item: Item) -> None:
        """Publish a client's accepted submission on gossip if it is still pending after
        ``_GOSSIP_FALLBACK_SECONDS``: a second path through the mesh for an item the direct
        links did not get decided. Done for every item at once, the gossip copies cost the
        nodes CPU while they decide it (about 8 ms of p50 latency measured on 4 nodes)."""
        await trio.sleep(_GOSSIP_FALLBACK_SECONDS)
        _, app, machine = self.require()
        if item.item_id in machine.pool and not app.is_committed(item.item_id):
            self._publish_soon(Submission.of(item).to_bytes())

    def _publish_soon(self, frame: bytes) -> None:
        try:
            self._tx_send.send_nowait(frame)
        except trio.WouldBlock:
            logger.info("gossip queue full; submission sent on the direct links only")

    async def _publish_loop(self) -> None:
        async for frame in self._tx_out:
            try:
                await self.host.publish(TX_TOPIC, frame)
            except P2PError as exc:
                logger.warning("gossip publish failed reason=%s", exc)

    # -- storage protocols --------------------------------------------------------------------

    async def _on_fragment_put(self, peer: ID, payload: bytes) -> bytes:
        keeper = self._keeper()
        try:
            return await keeper.serve_put(payload, self._index_of[peer])
        except StorageRefused as exc:
            raise RequestRejected(exc.detail) from exc

    async def _on_fragment_get(self, peer: ID, payload: bytes) -> bytes:
        try:
            return await self.retry_behind(lambda: self._keeper().serve_get(payload))
        except StorageRefused as exc:
            raise RequestRejected(exc.detail) from exc

    async def retry_behind(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt``; while it is refused for lack of a grant, give this node a few
        seconds to commit the block that may hold it (a client may have learnt of its grant
        from a node further ahead)."""
        deadline = trio.current_time() + _CATCH_UP_GRACE_SECONDS
        while True:
            try:
                return await attempt()
            except StorageRefused as exc:
                if exc.code != "not_granted" or not await self.wait_commit(deadline):
                    raise

    def _keeper(self) -> FragmentKeeper:
        if self.keeper is None:
            raise RequestRejected("node is starting")
        return self.keeper

    # -- peers --------------------------------------------------------------------------------

    async def _dial_peers(self) -> None:
        """Keep a connection to every configured peer, redialling with a capped backoff."""
        backoff: dict[str, float] = {}
        while True:
            connected = self.host.connected_peers()
            for address in self.identity.config.peers:
                try:
                    peer = parse_peer_id(address.rsplit("/p2p/", 1)[-1])
                except P2PError:
                    logger.warning("bad peer address in config: %s", address)
                    continue
                if peer in connected:
                    backoff.pop(address, None)
                    continue
                due = backoff.get(address, 0.0)
                if trio.current_time() < due:
                    continue
                try:
                    await self.host.connect(address)
                    logger.info("dialled peer=%s", peer)
                    backoff.pop(address, None)
                except P2PError as exc:
                    logger.debug("dial failed peer=%s reason=%s", peer, exc)
                    backoff[address] = trio.current_time() + _DIAL_BACKOFF_MAX
            await trio.sleep(0.5)
