"""The genesis allowlist and the security wrapper that enforces it on every connection.

The check sits right after the Noise handshake, the first moment the remote peer's identity is
proven: an outsider never gets a multiplexed connection, so it cannot open a single stream,
gossip or request. Both directions are checked (an outbound dial to a non-member is refused too,
since a dial can be redirected to whatever key answers at an address).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from libp2p.abc import IRawConnection, ISecureConn, ISecureTransport
from libp2p.peer.id import ID
from libp2p.security.exceptions import HandshakeFailure

from crypto.signing import VerifyKey
from node.p2p.atomic import make_writes_atomic
from node.p2p.errors import PeerRefused
from node.p2p.identity import peer_id_of
from node.p2p.metrics import P2PMetrics

logger = logging.getLogger("iomtshare.node.p2p.allowlist")


@dataclass(frozen=True, slots=True)
class PeerAllowlist:
    """The set of peer ids allowed to connect: the consensus nodes (and edge nodes) of genesis."""

    members: frozenset[ID]

    @classmethod
    def of(cls, peer_ids: Iterable[ID]) -> PeerAllowlist:
        return cls(frozenset(peer_ids))

    @classmethod
    def from_verify_keys(cls, keys: Iterable[VerifyKey]) -> PeerAllowlist:
        """Build the allowlist from the Ed25519 node keys listed in genesis."""
        return cls(frozenset(peer_id_of(key) for key in keys))

    def __contains__(self, peer_id: object) -> bool:
        return peer_id in self.members

    def __len__(self) -> int:
        return len(self.members)

    def check(self, peer_id: ID, context: str) -> None:
        """Raise :class:`PeerRefused` (and log why) unless ``peer_id`` is a member."""
        if peer_id not in self.members:
            logger.warning("refused peer=%s context=%s reason=not-in-genesis", peer_id, context)
            raise PeerRefused(f"peer {peer_id} is not in genesis ({context})")


class _RefusedHandshake(HandshakeFailure):
    """Raised into libp2p's upgrader, which turns handshake failures into a failed upgrade."""


class AllowlistSecurity(ISecureTransport):
    """Wraps a secure transport (Noise) and drops any connection whose peer is not allowed.

    libp2p 0.8's built-in connection gate filters by IP address only; peer identities are known
    only once the security handshake completes, so the check lives here. Admitted connections
    get cancellation-safe writes (:mod:`node.p2p.atomic`).
    """

    def __init__(
        self, inner: ISecureTransport, allowlist: PeerAllowlist, metrics: P2PMetrics
    ) -> None:
        self._inner = inner
        self._allowlist = allowlist
        self._metrics = metrics

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        secured = await self._inner.secure_inbound(conn)
        await self._admit(secured, "inbound")
        return make_writes_atomic(secured)

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        secured = await self._inner.secure_outbound(conn, peer_id)
        await self._admit(secured, "outbound")
        return make_writes_atomic(secured)

    async def _admit(self, secured: ISecureConn, direction: str) -> None:
        remote = secured.get_remote_peer()
        try:
            self._allowlist.check(remote, f"{direction} connection")
        except PeerRefused as exc:
            self._metrics.refused.labels(direction).inc()
            await secured.close()
            raise _RefusedHandshake(str(exc)) from exc
