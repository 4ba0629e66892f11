"""Gossip as the second path for client items, next to the direct peer links.

Consensus traffic goes on the direct links (:mod:`node.peer_links`). A client's submission that
is still pending :data:`FALLBACK_SECONDS` after this node took it is also published on
gossipsub (``TX_TOPIC``), so it still spreads through the mesh when a direct link to some peer
is down; a copy that arrives twice is ignored by consensus. Done for every item at once, the
gossip copies cost the nodes CPU while they decide it (about 8 ms of p50 latency measured on 4
nodes), hence the wait. Messages that arrive on gossip (``TX_TOPIC``, and ``CONSENSUS_TOPIC``
which nodes still accept) are handed to consensus like those from a link.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from consensus.item import Item
from consensus.messages import Submission
from node.p2p import GossipMessage, P2PError, P2PHost
from node.peers import Peers

logger = logging.getLogger("iomtshare.node.gossip")

CONSENSUS_TOPIC = "iomtshare/consensus/1"
TX_TOPIC = "iomtshare/tx/1"

#: A client's item still pending after this long is also published on gossip.
FALLBACK_SECONDS = 3.0
#: Items waiting for their turn, and frames waiting to be published; more are not published.
QUEUE_SIZE = 1024

#: ``publish(topic, data)`` on gossip; raises :class:`P2PError`.
Publish = Callable[[str, bytes], Awaitable[None]]
#: ``deliver(data, origin index or None, origin name)``: a frame heard on gossip, for consensus.
Deliver = Callable[[bytes, int | None, str], None]


class GossipFallback:
    """Publishes a client's item on gossip once it has been pending :data:`FALLBACK_SECONDS`
    (if ``still_pending(item)`` then says so), and hands what gossip brings to ``deliver``."""

    def __init__(
        self,
        publish: Publish,
        still_pending: Callable[[Item], bool],
        delay: float = FALLBACK_SECONDS,
    ) -> None:
        self._publish = publish
        self._still_pending = still_pending
        self._delay = delay
        self._watch_in, self._watch_out = trio.open_memory_channel[tuple[float, Item]](QUEUE_SIZE)
        self._send_in, self._send_out = trio.open_memory_channel[bytes](QUEUE_SIZE)

    def subscribe(self, host: P2PHost, peers: Peers, deliver: Deliver) -> None:
        """Hand every message on the node's gossip topics to ``deliver`` (before the host
        runs)."""

        async def on_gossip(gossip: GossipMessage) -> None:
            deliver(gossip.data, peers.index_of(gossip.origin), str(gossip.origin))

        host.add_topic(CONSENSUS_TOPIC, on_gossip)
        host.add_topic(TX_TOPIC, on_gossip)

    def watch(self, item: Item) -> None:
        """A client's item this node took: publish it later if it is still pending then."""
        due = trio.current_time() + self._delay
        try:
            self._watch_in.send_nowait((due, item))
        except trio.WouldBlock:
            logger.info("gossip fallback queue full; item stays on the direct links only")

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._send_loop)
            task_status.started()
            # Every item waits the same delay, so they fall due in the order they came.
            async for due, item in self._watch_out:
                await trio.sleep_until(due)
                if self._still_pending(item):
                    try:
                        self._send_in.send_nowait(Submission.of(item).to_bytes())
                    except trio.WouldBlock:
                        logger.info("gossip queue full; item sent on the direct links only")

    async def _send_loop(self) -> None:
        # Publishing waits on the mesh; a slow mesh must not hold up the items falling due.
        async for frame in self._send_out:
            try:
                await self._publish(TX_TOPIC, frame)
            except P2PError as exc:
                logger.warning("gossip publish failed reason=%s", exc)
