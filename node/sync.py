"""Catch-up of a lagging or restarted node.

Consensus already knows how to catch up: a node that sees messages from a later height, or hears
the periodic status beacon of a node behind it, sends or answers :class:`SyncRequest` with
:class:`SyncReply` (committed blocks with their commit QCs), and the receiver checks each QC and
re-validates each block through the application before applying it. Those messages travel
between exactly two nodes on the direct links (:mod:`node.peer_links`); a reply can be megabytes,
so this module cuts it into pieces under the frame limit. It also keeps a far-behind node asking:
after a reply that moved it forward, it asks the same peer for the next batch at once instead
of waiting for the next beacon.

A node believes it is behind (it answers "syncing") only for a height that at least f + 1
distinct validators vouched for: one's own signed message naming it, or a commit QC (which
vouches for every signer). A single Byzantine validator can sign messages for any height it
likes; f + 1 of them include an honest one, which names only heights really reached.
"""

from __future__ import annotations

import logging

from consensus import Item, Message, Output
from consensus.messages import CommittedBlock, LeaderClaim, SyncReply, SyncRequest
from node.ratelimit import TokenBuckets

logger = logging.getLogger("iomtshare.node.sync")

#: Sync replies are cut into pieces of at most this many bytes of blocks.
SYNC_PIECE_BYTES = 4 * 1024 * 1024
#: Sync requests served per peer: a burst of this many, then as many a second. A far-behind
#: peer asks for its next batch only after applying a reply, far below this. A sync request is
#: unsigned, so a peer sending them at full rate would otherwise make this node read and send
#: blocks without end, and their replies would go ahead of client items in the inbox.
SYNC_REQUEST_BURST = 8
SYNC_REQUESTS_PER_SECOND = 8.0


def vouchers_needed(n: int, quorum: int) -> int:
    """f + 1 for ``n`` validators deciding with ``quorum`` votes: two quorums share
    ``2 * quorum - n`` validators, and safety holds while fewer than that are Byzantine, so
    ``f = 2 * quorum - n - 1``. At most the ``n - 1`` other validators, at least one."""
    return max(1, min(2 * quorum - n, n - 1))


class CatchUp:
    """Tracks how far ahead the network is and decides follow-up sync requests.

    ``vouchers`` is how many distinct validators must have proved a height before this node
    believes the network reached it (:func:`vouchers_needed`; 1 only suits a network that
    tolerates no Byzantine validator).
    """

    def __init__(self, index: int, vouchers: int = 1) -> None:
        if vouchers < 1:
            raise ValueError("vouchers must be at least 1")
        self.index = index
        self.vouchers = vouchers
        #: The height at least ``vouchers`` validators proved (what :meth:`syncing` compares).
        self.highest_seen = 0
        # The highest height each validator proved, by validator index.
        self._reached: dict[int, int] = {}

    def observe(self, message: Message) -> None:
        """Note the height a peer's message speaks about, for the validators that vouch for it
        (a message whose height the consensus machine checked: see :meth:`claims_more`)."""
        height = _claimed(message)
        for validator in _vouching(message):
            if height > self._reached.get(validator, 0):
                self._reached[validator] = height
        heights = sorted(self._reached.values(), reverse=True)
        if len(heights) >= self.vouchers:
            self.highest_seen = max(self.highest_seen, heights[self.vouchers - 1])

    def claims_more(self, message: Message) -> bool:
        """Whether ``message`` names a height beyond what one of its vouchers proved so far:
        only then is it worth checking that it proves that height before :meth:`observe`."""
        height = _claimed(message)
        return any(height > self._reached.get(v, 0) for v in _vouching(message))

    def syncing(self, committed_height: int) -> bool:
        """Whether peers have been seen working on a height beyond the next one."""
        return self.highest_seen > committed_height + 1

    def follow_up(
        self, message: Message | Item, out: Output, next_height: int
    ) -> SyncRequest | None:
        """A request for the next batch after a reply that committed blocks, else None."""
        if isinstance(message, SyncReply) and out.commits:
            return SyncRequest(next_height, self.index)
        return None


class SyncRequestGate:
    """Which sync requests a node serves: a peer's own, at a bounded rate (token buckets)."""

    def __init__(
        self, burst: int = SYNC_REQUEST_BURST, rate: float = SYNC_REQUESTS_PER_SECOND
    ) -> None:
        self._buckets: TokenBuckets[int] = TokenBuckets(burst, rate)
        #: Requests refused, by the peer they came from (or named, if that is unknown).
        self.refused: dict[int, int] = {}

    def admits(self, request: SyncRequest, origin: int | None, now: float) -> bool:
        """Whether to serve ``request`` from link peer ``origin`` (None: not known) at ``now``.
        Not when it names another requester (its reply would go to a node that did not ask), or
        the requester asks too often; a refusal is logged, sparingly, since a peer flooding
        requests must not flood the log too."""
        peer = request.requester if origin is None else origin
        if request.requester != peer:
            reason = f"names requester {request.requester}"
        elif self._buckets.take(peer, now):
            return True
        else:
            reason = "too many"
        refused = self.refused[peer] = self.refused.get(peer, 0) + 1
        if refused == 1 or refused % 1000 == 0:
            logger.warning(
                "sync request dropped from=%d reason=%s refused=%d", peer, reason, refused
            )
        return False


def _vouching(message: Message) -> tuple[int, ...]:
    """The validators a message speaks for: a commit QC's signers, a height message's sender."""
    if isinstance(message, SyncReply):
        return message.blocks[-1].signers if message.blocks else ()
    if isinstance(message, LeaderClaim):
        return (message.claimant,)
    voter = getattr(message, "voter", None)
    return (voter,) if isinstance(voter, int) else ()


def _claimed(message: Message) -> int:
    """The height a message names (0 for one that names none)."""
    if isinstance(message, SyncReply):
        return message.blocks[-1].height if message.blocks else 0
    height = getattr(message, "height", None)
    return height if isinstance(height, int) else 0


def split_reply(reply: SyncReply, limit: int = SYNC_PIECE_BYTES) -> list[SyncReply]:
    """Cut a sync reply into consecutive pieces of at most ``limit`` bytes of blocks (a single
    larger block travels alone), so no piece exceeds the request frame limit."""
    pieces: list[SyncReply] = []
    current: list[CommittedBlock] = []
    size = 0
    for block in reply.blocks:
        block_size = len(block.block)
        if current and size + block_size > limit:
            pieces.append(SyncReply(tuple(current)))
            current, size = [], 0
        current.append(block)
        size += block_size
    if current or not pieces:
        pieces.append(SyncReply(tuple(current)))
    return pieces
