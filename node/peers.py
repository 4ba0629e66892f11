"""The other genesis nodes: their libp2p identities, which are connected, and the dialer.

Consensus, storage and the API speak of nodes by genesis index; libp2p by peer id.
:class:`Peers` translates between the two over the node's host. :class:`PeerDialer` is the
service that keeps a connection to every peer named in the node's config.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import trio
from libp2p.peer.id import ID

from ledger.genesis import Genesis
from node.p2p import FrameWriter, P2PError, P2PHost, parse_peer_id

logger = logging.getLogger("iomtshare.node.peers")

#: A peer that could not be dialled is tried again after this long.
DIAL_BACKOFF_SECONDS = 5.0
#: How often the dialer looks for peers that are not connected.
DIAL_INTERVAL_SECONDS = 0.5


class Peers:
    """Genesis nodes by index over ``host``; this node is ``index``."""

    def __init__(self, host: P2PHost, genesis: Genesis, index: int) -> None:
        self._host = host
        self.index = index
        self._ids = {n.index: parse_peer_id(n.peer_id) for n in genesis.nodes}
        self._index_of = {peer: i for i, peer in self._ids.items()}

    @property
    def own_id(self) -> ID:
        return self._host.peer_id

    def others(self) -> list[int]:
        """The indexes of every other genesis node."""
        return [i for i in self._ids if i != self.index]

    def peer_id_of(self, index: int) -> ID:
        """The libp2p id of node ``index``; raises ``KeyError`` for an index not in genesis."""
        return self._ids[index]

    def index_of(self, peer: ID) -> int | None:
        """The genesis index of ``peer``, or None for a peer that is not a genesis node."""
        return self._index_of.get(peer)

    def connected(self) -> list[int]:
        """The indexes of the genesis nodes with a live connection, in order."""
        live = self._host.connected_peers()
        return sorted(i for i, peer in self._ids.items() if peer in live)

    def listen(self) -> tuple[str, ...]:
        """Where this node accepts peers (empty until the host runs)."""
        return tuple(str(address) for address in self._host.listen_addrs())

    async def request(
        self, index: int, protocol: str, payload: bytes, timeout: float | None = None
    ) -> bytes:
        """One request to node ``index``; raises :class:`P2PError`."""
        peer = self._ids.get(index)
        if peer is None:
            raise P2PError(f"no node {index}")
        return await self._host.request(peer, protocol, payload, timeout)

    async def open_stream(self, index: int, protocol: str) -> FrameWriter:
        """A one-way frame stream to node ``index``; raises :class:`P2PError`."""
        return await self._host.open_stream(self._ids[index], protocol)


class PeerDialer:
    """Keeps a connection to every peer at ``addresses`` (``/ip4/.../p2p/<peer id>``),
    redialling one that is not connected at most every :data:`DIAL_BACKOFF_SECONDS`."""

    def __init__(self, host: P2PHost, addresses: Sequence[str]) -> None:
        self._host = host
        self._addresses = list(addresses)

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        backoff: dict[str, float] = {}
        while True:
            connected = self._host.connected_peers()
            for address in self._addresses:
                try:
                    peer = parse_peer_id(address.rsplit("/p2p/", 1)[-1])
                except P2PError:
                    logger.warning("bad peer address in config: %s", address)
                    continue
                if peer in connected:
                    backoff.pop(address, None)
                    continue
                if trio.current_time() < backoff.get(address, 0.0):
                    continue
                try:
                    await self._host.connect(address)
                    logger.info("dialled peer=%s", peer)
                    backoff.pop(address, None)
                except P2PError as exc:
                    logger.debug("dial failed peer=%s reason=%s", peer, exc)
                    backoff[address] = trio.current_time() + DIAL_BACKOFF_SECONDS
            await trio.sleep(DIAL_INTERVAL_SECONDS)
