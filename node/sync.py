"""Catch-up of a lagging or restarted node.

Consensus already knows how to catch up: a node that sees messages from a later height, or hears
the periodic status beacon of a node behind it, sends or answers :class:`SyncRequest` with
:class:`SyncReply` (committed blocks with their commit QCs), and the receiver checks each QC and
re-validates each block through the application before applying it. Those messages travel
between exactly two nodes on the direct links (:mod:`node.peer_links`); a reply can be megabytes,
so this module cuts it into pieces under the frame limit. It also keeps a far-behind node asking:
after a reply that moved it forward, it asks the same peer for the next batch at once instead
of waiting for the next beacon.
"""

from __future__ import annotations

from consensus import Item, Message, Output
from consensus.messages import CommittedBlock, SyncReply, SyncRequest

#: Sync replies are cut into pieces of at most this many bytes of blocks.
SYNC_PIECE_BYTES = 4 * 1024 * 1024


class CatchUp:
    """Tracks how far ahead the network is and decides follow-up sync requests."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.highest_seen = 0

    def observe(self, message: Message) -> None:
        """Note the height a peer's message speaks about (one whose height the consensus
        machine checked: see :meth:`claims_more`)."""
        self.highest_seen = max(self.highest_seen, _claimed(message))

    def claims_more(self, message: Message) -> bool:
        """Whether ``message`` names a height beyond the highest seen: only then is it worth
        checking that it proves that height before :meth:`observe` takes it."""
        return _claimed(message) > self.highest_seen

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
