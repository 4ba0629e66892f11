"""Keeps gossip working when a peer reconnects before its old connection is noticed dead.

py-libp2p's pubsub keeps one stream per peer and, when a connection closes, forgets the peer
only if no other connection to it remains. A member that restarts and dials back quickly
therefore leaves the survivor holding a pubsub stream on the dead connection: nothing is sent
or received on that topic mesh again. This notifee spots that case (the stream's connection is
the one that closed, yet the peer is connected anew) and has pubsub drop the stale stream,
which makes it open a fresh one on the live connection.
"""

from __future__ import annotations

import logging

import trio
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.pubsub.pubsub import Pubsub
from multiaddr import Multiaddr  # type: ignore[import-untyped]

logger = logging.getLogger("iomtshare.node.p2p.gossip")


class StalePubsubStreamReaper(INotifee):
    """Network notifee; register it on the host's network next to pubsub's own."""

    def __init__(self, pubsub: Pubsub) -> None:
        self._pubsub = pubsub

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        await trio.lowlevel.checkpoint()
        peer_id = conn.muxed_conn.peer_id
        stream = self._pubsub.peers.get(peer_id)
        if stream is None or stream.muxed_conn is not conn.muxed_conn:
            return
        if not network.get_connections(peer_id):
            return  # pubsub's own dead-peer handling covers a peer that is simply gone
        logger.info("gossip stream of peer=%s died with an old connection; reopening", peer_id)
        # Private in py-libp2p 0.8: drops the peer's stream and router state, then schedules a
        # new stream because the peer is still connected.
        self._pubsub._handle_dead_peer(peer_id)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        await trio.lowlevel.checkpoint()

    async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
        await trio.lowlevel.checkpoint()

    async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
        await trio.lowlevel.checkpoint()
