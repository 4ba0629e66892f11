"""Connection events of the host: logged, and awaitable by the node (and tests)."""

from __future__ import annotations

import logging

import trio
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.peer.id import ID
from multiaddr import Multiaddr  # type: ignore[import-untyped]

logger = logging.getLogger("iomtshare.node.p2p.host")


class PeerPresence(INotifee):
    """Tracks which peers have a live connection and wakes waiters on every change."""

    def __init__(self, network: INetwork) -> None:
        self._network = network
        self._changed = trio.Event()

    def is_connected(self, peer_id: ID) -> bool:
        return bool(self._network.get_connections(peer_id))

    async def wait_disconnected(self, peer_id: ID) -> None:
        """Return once no connection to ``peer_id`` remains (at once if there is none)."""
        while self.is_connected(peer_id):
            await self._changed.wait()

    async def wait_connected(self, peer_id: ID) -> None:
        """Return once a connection to ``peer_id`` exists."""
        while not self.is_connected(peer_id):
            await self._changed.wait()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        await trio.lowlevel.checkpoint()
        logger.info("peer connected peer=%s", conn.muxed_conn.peer_id)
        self._signal()

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        await trio.lowlevel.checkpoint()
        logger.info("peer disconnected peer=%s", conn.muxed_conn.peer_id)
        self._signal()

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
        await trio.lowlevel.checkpoint()

    async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
        await trio.lowlevel.checkpoint()
