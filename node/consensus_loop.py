"""The consensus task: the one owner of the node's :class:`~consensus.machine.ConsensusNode`.

Every input (a peer's message, a client submission, a due timer) goes through one
:class:`~node.inbox.Inbox` to this task, and it carries out the returned
:class:`~consensus.output.Output` without blocking: messages are queued on the
:class:`~node.peer_links.PeerLinks`, each timer becomes a task that sleeps until its deadline
and feeds the timer back, committed blocks wake whoever waits for a commit, and a client's item
that entered the pool is handed to ``on_client_item`` (the gossip fallback).

A client's item is written to the node-local database before it is queued
(:class:`~node.pending_pool.PendingPool`), and stays there until it commits or consensus lets
go of it (then with the reason); on start the stored items are queued again.

Time is trio's clock (``trio.current_time()``): consensus only sets and compares its own
deadlines with it, so the loop runs the same on ``trio.testing.MockClock``. Nothing here reads
the wall clock; block times come from the application (:func:`node.home.wall_ms`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable, Callable
from typing import Any

import trio

from consensus import BadShare, ConsensusNode, Evidence, Message, Output, Timer, decode_message
from consensus.item import Item
from consensus.messages import AuthVote, LeaderClaim, Submission, SyncReply, SyncRequest
from crypto.errors import DecodeError
from node.application import NodeApplication
from node.byzantine import Byzantine
from node.consensus_stats import ConsensusStats
from node.inbox import Inbox, InboxFull
from node.p2p import ProtocolViolation
from node.peer_links import PeerLinks
from node.pending_pool import PendingPool
from node.shedding import backlog
from node.sync import CatchUp, SyncRequestGate, split_reply
from node.wire import FrameBatch

logger = logging.getLogger("iomtshare.node.consensus")

#: The libp2p stream protocol of the direct links (one long-lived stream per peer).
CONSENSUS_PROTOCOL = "/iomtshare/consensus/1"
#: Inputs waiting for the consensus task; beyond this, new ones are refused or dropped.
INBOX_SIZE = 4096

#: An input of the consensus task and the index of the node it came from (None: this node).
Input = tuple[Message | Item | Timer, int | None]


def _ignore(item: Item) -> None:
    return None


def _evidence_about(evidence: Evidence) -> str:
    """The kind of message the evidence convicts (for the log: which misbehaviour it was)."""
    if isinstance(evidence, BadShare):
        return type(evidence.vote).__name__
    try:
        return type(decode_message(evidence.first)).__name__
    except DecodeError:  # consensus kept it decoded; a failure here is only a worse log line
        return "unknown"


def _log_commits_and_trace(out: Output) -> None:
    for block in out.commits:
        signers, short_hash = list(block.signers), block.block_hash.hex()[:16]
        logger.info("block committed height=%d round=%d hash=%s signers=%s",
                    block.height, block.round, short_hash, signers)
    for event in out.trace:
        logger.debug("consensus %s", event)


def _idle_step(machine: ConsensusNode) -> Output | None:
    """Let an idle machine check one peer share that arrived unchecked (consensus checks the
    shares of the blocks it builds or votes on itself; this only does it ahead). None if the
    step failed: the loop then waits for input rather than retrying at once."""
    try:
        return machine.on_idle(trio.current_time())
    except Exception:
        logger.exception("consensus idle step failed")
        return None


class _Malformed:
    """Counts malformed messages by source and logs the first and every 1000th of each: a
    peer sending junk at full rate must not fill the log (and the disk) as fast."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    def note(self, source: str, reason: str) -> None:
        seen = self.count[source] = self.count.get(source, 0) + 1
        if seen == 1 or seen % 1000 == 0:
            logger.warning("bad consensus message from=%s reason=%s count=%d", source, reason, seen)


class ConsensusLoop:
    """Runs ``machine`` over ``app``: see the module docstring."""

    def __init__(
        self,
        machine: ConsensusNode,
        app: NodeApplication,
        links: PeerLinks,
        catch_up: CatchUp,
        *,
        on_client_item: Callable[[Item], None] = _ignore,
        inbox_size: int = INBOX_SIZE,
        byzantine: Byzantine | None = None,
    ) -> None:
        self.machine = machine
        self._app = app
        self._links = links
        self._catch_up = catch_up
        self._sync_gate = SyncRequestGate()
        self._malformed = _Malformed()
        self._on_client_item = on_client_item
        # Test only (node.byzantine): what this node sends is changed on the way out.
        self._byzantine = byzantine
        self._inbox: Inbox[Input] = Inbox(inbox_size)
        # Client items handed over and still in the inbox (not in the pool yet).
        self._submitted: set[bytes] = set()
        #: The client items this node acknowledged, on disk until decided.
        self.pending = PendingPool(app.local.submissions, app)
        self._commit_event = trio.Event()
        #: Misbehaviour evidence (equivocation, bad shares) this node has gathered.
        self.evidence_seen = 0
        #: Commits and decision latencies, for the node's metrics.
        self.stats = ConsensusStats()

    # -- what the rest of the node asks -------------------------------------------------------

    def backlog(self, depth: int) -> tuple[int, float]:
        """Undecided items, and how long the ``depth``-th oldest has waited (see
        :func:`node.shedding.backlog`)."""
        return backlog(self.machine.pool, len(self._submitted), depth, trio.current_time())

    async def submit(self, item: Item) -> None:
        """Keep a client's item (decoded and checked by the caller) on disk and hand it to
        consensus; raises :class:`~node.pending_pool.CannotAccept` when it cannot be kept and
        :class:`InboxFull` when the node is too busy to take it (not kept then)."""
        self.pending.accept(item)
        if not self.enqueue(item, None):
            self.pending.forget(item.item_id)
            raise InboxFull("the node is too busy to take submissions; retry later")
        self._submitted.add(item.item_id)
        self.stats.taken(item, trio.current_time())

    def is_pending(self, item_id: bytes) -> bool:
        """Whether an item waits here: in the pool, still in the inbox, or accepted on disk."""
        return self._held(item_id) or item_id in self.pending

    def _held(self, item_id: bytes) -> bool:
        return item_id in self.machine.pool or item_id in self._submitted

    def still_pending(self, item: Item) -> bool:
        """Whether ``item`` is still in the pool, not yet committed."""
        return item.item_id in self.machine.pool and not self._app.is_committed(item.item_id)

    def inbox_size(self) -> int:
        return len(self._inbox)

    async def wait_commit(self, deadline: float) -> bool:
        """Wait for the next committed block until ``deadline`` (trio time); False on timeout."""
        event = self._commit_event
        with trio.move_on_at(deadline):
            await event.wait()
            return True
        return False

    # -- inputs from peers --------------------------------------------------------------------

    def take_message(self, data: bytes, origin: int | None, source: str) -> None:
        """Queue one encoded message from ``source`` (node ``origin`` if known), e.g. heard on
        gossip; a malformed one is logged and dropped."""
        message = self._accept(data, source)
        now = trio.current_time()
        if isinstance(message, SyncRequest) and not self._sync_gate.admits(message, origin, now):
            return
        if message is not None:
            self.enqueue(message, origin)

    async def serve_link(
        self, origin: int | None, source: str, batches: AsyncIterable[bytes]
    ) -> None:
        """Read a peer's link stream (see :meth:`take_batch`) until it ends."""
        async for payload in batches:
            await self.take_batch(payload, origin, source)

    async def take_batch(self, payload: bytes, origin: int | None, source: str) -> None:
        """Queue the messages of one :class:`FrameBatch` from a peer's link.

        While the inbox has no room for the whole batch this waits, which holds the sender back
        (see :mod:`node.peer_links`). A malformed message inside a well-formed batch is logged
        and skipped; a malformed batch raises :class:`ProtocolViolation` (ending the stream).
        """
        try:
            batch = FrameBatch.from_bytes(payload)
        except DecodeError as exc:
            raise ProtocolViolation(f"malformed frame batch: {exc}") from exc
        await self._inbox.wait_for_room(len(batch.frames))
        for frame in batch.frames:
            self.take_message(frame, origin, source)

    def enqueue(self, item: Message | Item | Timer, origin: int | None) -> bool:
        """Queue an input (round traffic first); False if it was dropped because the inbox is
        full (logged)."""
        urgent = not isinstance(item, Submission | Item | AuthVote)
        try:
            self._inbox.put_nowait((item, origin), urgent=urgent)
        except InboxFull:
            logger.warning("consensus inbox full; dropped %s", type(item).__name__)
            return False
        return True

    def _accept(self, data: bytes, source: str) -> Message | None:
        try:
            message = decode_message(data)
        except DecodeError as exc:
            self._malformed.note(source, str(exc))
            return None
        # Checked first: an unsigned frame naming a far height must not make us "syncing".
        if self._catch_up.claims_more(message) and self.machine.proves_height(message):
            self._catch_up.observe(message)
        if isinstance(message, LeaderClaim):
            # A clock check, so here and not in consensus or the ledger (see node.blocks).
            stale = self._app.blocks.stale_proposal(message)
            if stale is not None:
                logger.warning("claim dropped from=%s reason=%s", source, stale)
                return None
        return message

    # -- the task -----------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Start the machine and step it on every input until cancelled."""
        machine = self.machine
        async with trio.open_nursery() as timers:
            if self._byzantine is not None:
                timers.start_soon(self._byzantine.run, self._links)
            self._carry_out(machine.start(trio.current_time()), timers)
            for kept in self.pending.reload():
                if self.enqueue(kept, None):
                    self._submitted.add(kept.item_id)
            task_status.started()
            while True:
                if not len(self._inbox) and machine.idle_work:
                    await trio.lowlevel.checkpoint()  # let the readers queue what arrived
                    idle = None if len(self._inbox) else _idle_step(machine)
                    if idle is not None:
                        self._carry_out(idle, timers)
                        continue
                item, origin = await self._inbox.get()
                if isinstance(item, Item):
                    self._submitted.discard(item.item_id)
                round_before = machine.round
                out = self._step(machine, item, origin)
                if isinstance(item, Item) and item.item_id not in machine.pool:
                    self.pending.settle(item.item_id)  # consensus refused it
                if out is None:
                    continue
                self._carry_out(out, timers, machine.round != round_before)
                if isinstance(item, Item) and item.item_id in machine.pool:
                    self._on_client_item(item)
                if origin is not None and not isinstance(item, Timer):
                    follow = self._catch_up.follow_up(item, out, machine.height)
                    if follow is not None and origin in self._links.peers:
                        self._links.send(origin, follow.to_bytes())

    def _step(
        self, machine: ConsensusNode, item: Message | Item | Timer, origin: int | None
    ) -> Output | None:
        started = time.perf_counter()
        try:
            if isinstance(item, Timer):
                out = machine.on_timer(item, trio.current_time())
            else:
                out = machine.on_message(item, trio.current_time())
        except Exception:
            # A fault in one input (a bug, or a ledger refusing a block) must not take the node
            # down; the machine's state is unchanged by the failed step's effects.
            logger.exception("consensus step failed input=%s", type(item).__name__)
            return None
        logger.debug(
            "step input=%s from=%s took_ms=%.2f queued=%d",
            item.kind.name if isinstance(item, Timer) else type(item).__name__,
            origin,
            (time.perf_counter() - started) * 1e3,
            len(self._inbox),
        )
        return out

    def _carry_out(self, out: Output, timers: trio.Nursery, new_round: bool = False) -> None:
        for send in out.sends:
            message = send.message
            pieces = split_reply(message) if isinstance(message, SyncReply) else [message]
            for piece in pieces:
                self._send(send.to, piece)
        for timer in out.timers:
            timers.start_soon(self._timer, timer)
        _log_commits_and_trace(out)
        for evidence in out.evidence:
            self.evidence_seen += 1
            kind, offender = type(evidence).__name__, evidence.offender
            about = _evidence_about(evidence)
            logger.warning(
                "misbehaviour evidence kind=%s offender=%d about=%s", kind, offender, about
            )
        # Also when a round ends without a block: while quorum is lost, a request going stale
        # must be dropped (and its client told why), not shown as pending for ever.
        if out.commits or self._app.dropped or new_round:
            self._purge_pool()
            self.pending.settle_all(self._held)
        if out.commits:
            now = trio.current_time()
            self.stats.committed(out.commits, self._app.ledger, self.is_pending, now)
            self._commit_event.set()
            self._commit_event = trio.Event()

    def _send(self, to: int | None, message: Message) -> None:
        if self._byzantine is not None:
            for peer, frame in self._byzantine.outgoing(to, message, self._links.peers):
                self._links.send(peer, frame)
            return
        frame = message.to_bytes()
        if to is None:
            self._links.broadcast(frame)
        elif to in self._links.peers:
            self._links.send(to, frame)

    def _purge_pool(self) -> None:
        """Drop pending items that can no longer enter a block, so rounds are not wasted on
        them (see :meth:`NodeApplication.stale_items`)."""
        stale = self._app.stale_items(self.machine.pool.items())
        if stale:
            logger.info("pending items dropped count=%d", len(stale))
            # The pool is the machine's public attribute; consensus has no removal input.
            self.machine.pool.remove(tuple(stale))

    async def _timer(self, timer: Timer) -> None:
        await trio.sleep_until(timer.deadline)
        self.enqueue(timer, None)
