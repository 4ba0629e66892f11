"""The node's libp2p host as one trio service: TCP + Noise + yamux on a genesis-gated network.

Typical use::

    host = P2PHost(node_key, PeerAllowlist.from_verify_keys(genesis_keys), P2PConfig())
    host.add_topic("iomtshare/tx/1", on_transaction)
    host.add_protocol("/iomtshare/blocks/1", serve_blocks)
    async with trio.open_nursery() as nursery:
        addrs = await nursery.start(host.run)
        await host.connect("/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...")
        await host.publish("iomtshare/tx/1", tx_bytes)
        blocks = await host.request(peer_id, "/iomtshare/blocks/1", query_bytes)

Cancelling the nursery stops every task the host started and closes its sockets.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Collection
from typing import Any

import multiaddr  # type: ignore[import-untyped]  # ships without type hints
import trio
from libp2p import new_swarm
from libp2p.abc import IHost
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.host.basic_host import BasicHost
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from prometheus_client import CollectorRegistry

from crypto.signing import SigningKey
from node.p2p.allowlist import AllowlistSecurity, PeerAllowlist
from node.p2p.config import P2PConfig
from node.p2p.errors import DialError, NotRunning, P2PError
from node.p2p.gossip import Gossip, GossipHandler
from node.p2p.guard import guard_stream_handler
from node.p2p.identity import libp2p_key_pair
from node.p2p.inbound import InboundSlots
from node.p2p.late_connections import install as install_late_connection_filter
from node.p2p.metrics import P2PMetrics
from node.p2p.presence import PeerPresence
from node.p2p.reqresp import RequestHandler, RequestResponse
from node.p2p.streams import FrameStreamHandler, FrameStreams, FrameWriter

logger = logging.getLogger("iomtshare.node.p2p.host")


# Bound on an orderly shutdown (closing connections and listeners) once cancelled.
_CLOSE_GRACE_SECONDS = 5.0

#: py-libp2p's yamux sends a window update after every read unless told otherwise by this
#: environment variable; with "0" it lets credit build up first (in the steady state once
#: half the window has been read, as go-yamux does). Each node receives a few small frames per
#: consensus step, so the default made the receiver write one frame back for every frame it
#: read (docs/performance.md, section 7). The price: a sender may run up to about half a window
#: further ahead, so a stream can buffer about 1.5 windows instead of one.
_YAMUX_RELEASE_ON_READ = "PY_YAMUX_RELEASE_ON_READ"


def _batch_window_updates() -> None:
    """Ask yamux for batched window updates, unless the operator set the variable already."""
    os.environ.setdefault(_YAMUX_RELEASE_ON_READ, "0")


__all__ = ["P2PConfig", "P2PHost"]


class P2PHost:
    """A libp2p host that talks only to genesis members.

    ``validators`` (default: every member of ``allowlist``) are the members that may publish
    gossip and that share the whole inbound request pool; the other members are light peers
    (genesis edges): they may request, within a small share of the pool (:mod:`.inbound`).

    Register topics and protocols, start :meth:`run` with ``await nursery.start(host.run)``,
    then connect, publish and request. Errors are :class:`node.p2p.errors.P2PError` subclasses.
    """

    def __init__(
        self,
        node_key: SigningKey,
        allowlist: PeerAllowlist,
        config: P2PConfig | None = None,
        registry: CollectorRegistry | None = None,
        *,
        validators: Collection[ID] | None = None,
    ) -> None:
        """``registry`` receives the host's Prometheus series (a private one if omitted)."""
        self._config = config or P2PConfig()
        self._allowlist = allowlist
        self._metrics = P2PMetrics(registry if registry is not None else CollectorRegistry())
        key_pair = libp2p_key_pair(node_key)
        _batch_window_updates()
        # Only Noise and only yamux are offered: libp2p's defaults also accept plaintext and
        # secio, which would let a peer skip authenticated encryption entirely.
        noise = NoiseTransport(key_pair, noise_privkey=new_x25519_key_pair().private_key)
        swarm = new_swarm(
            key_pair=key_pair,
            sec_opt={NOISE_PROTOCOL_ID: AllowlistSecurity(noise, allowlist, self._metrics)},
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
            listen_addrs=[self._config.listen_multiaddr()],
            # A refused or dead peer should fail fast; the caller decides when to retry.
            retry_config=RetryConfig(max_retries=0),
            connection_config=ConnectionConfig(dial_timeout=self._config.dial_timeout),
        )
        if not isinstance(swarm, Swarm):  # new_swarm is typed to return the interface
            raise P2PError(f"unexpected network service {type(swarm).__name__}")
        self._swarm = swarm
        self._host = BasicHost(network=swarm)
        # After BasicHost installed its handler: every inbound stream now runs inside the guard.
        swarm.set_stream_handler(guard_stream_handler(swarm.common_stream_handler))
        self._presence = PeerPresence(swarm)
        swarm.register_notifee(self._presence)
        voters = allowlist.members if validators is None else frozenset(validators)
        config = self._config
        slots = InboundSlots(
            config.max_concurrent_inbound, config.max_inbound_per_light_peer, voters
        )
        self._requests = RequestResponse(self._host, allowlist, config, slots, self._metrics)
        self._streams = FrameStreams(
            self._host,
            allowlist,
            max_frame_bytes=self._config.max_frame_bytes,
            open_timeout=self._config.dial_timeout,
            max_inbound_per_protocol=self._config.max_concurrent_inbound,
        )
        self._gossip = Gossip(self._host, voters, self._config.gossip, self._metrics)
        self._metrics.count_peers_with(lambda: len(self._host.get_connected_peers()))
        self._started = False
        self._running = False

    # -- identity and state -------------------------------------------------------------------

    @property
    def peer_id(self) -> ID:
        return self._host.get_id()

    @property
    def allowlist(self) -> PeerAllowlist:
        return self._allowlist

    @property
    def metrics(self) -> P2PMetrics:
        return self._metrics

    @property
    def libp2p(self) -> IHost:
        """The underlying py-libp2p host, for what the facade does not cover (and tests)."""
        return self._host

    @property
    def running(self) -> bool:
        return self._running

    def listen_addrs(self) -> list[multiaddr.Multiaddr]:
        """Dialable addresses, each ending in ``/p2p/<peer id>``; empty before the host runs."""
        if not self._running:
            return []
        suffix = multiaddr.Multiaddr(f"/p2p/{self.peer_id}")
        return [addr.encapsulate(suffix) for addr in self._host.get_transport_addrs()]

    def connected_peers(self) -> frozenset[ID]:
        return frozenset(self._host.get_connected_peers())

    # -- registration (before run) ------------------------------------------------------------

    def add_topic(self, topic: str, handler: GossipHandler) -> None:
        """Handle gossip on ``topic``; must be called before :meth:`run`."""
        self._gossip.add_topic(topic, handler)

    def add_protocol(
        self, protocol: str, handler: RequestHandler, max_request_bytes: int | None = None
    ) -> None:
        """Serve request/response ``protocol`` with ``handler``; a request whose payload would
        exceed ``max_request_bytes`` (default: what the frame limit allows) is refused from its
        length prefix, before its body is read."""
        self._requests.register(protocol, handler, max_request_bytes)

    def add_stream_protocol(self, protocol: str, handler: FrameStreamHandler) -> None:
        """Serve one-way frame stream ``protocol`` with ``handler`` (:mod:`node.p2p.streams`)."""
        self._streams.register(protocol, handler)

    # -- service ------------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, start gossip, report the listen addresses to ``task_status``, run until
        cancelled. Raises :class:`P2PError` if the host cannot listen (port taken, bad host)."""
        if self._started:
            raise P2PError("a host runs once; build a new one to restart")
        self._started = True
        _refuse_taken_port(self._config)
        install_late_connection_filter()
        listen_failed = False
        try:
            async with self._host.run([self._config.listen_multiaddr()]):
                try:
                    # libp2p logs a failed listen and carries on; a node that cannot be reached
                    # must not pretend to be up. The error is raised outside libp2p's nurseries,
                    # which would otherwise wrap it in an exception group.
                    if not self._host.get_transport_addrs():
                        listen_failed = True
                    else:
                        await self._serve(task_status)
                finally:
                    self._running = False
                    await self._close_network()
        finally:
            logger.info("p2p host stopped peer=%s", self.peer_id)
        if listen_failed:
            raise P2PError(f"cannot listen on {self._config.listen_multiaddr()}")

    async def _serve(self, task_status: Any) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self._gossip.run)
            self._running = True
            logger.info(
                "p2p host started peer=%s addrs=%s members=%d",
                self.peer_id,
                [str(a) for a in self.listen_addrs()],
                len(self._allowlist),
            )
            task_status.started(self.listen_addrs())
            await trio.sleep_forever()

    async def _close_network(self) -> None:
        # py-libp2p's TCP listener serves from a trio *system* task, outside every nursery we
        # own, and its cancellation path skips closing it (the cleanup awaits are cancelled
        # too). Closing the host explicitly, shielded, is what really releases the port.
        with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_GRACE_SECONDS) as scope:
            # Listeners first. The swarm closes its connections before its listeners, and by
            # now the cancellation has stopped its task manager: a peer that sees its link
            # drop dials straight back, the still-open listener accepts, and registering that
            # connection fails with a LifecycleError traceback in the log. (A second close by
            # the swarm is a no-op.)
            for listener in list(self._swarm.listeners.values()):
                await listener.close()
            await self._host.close()
        if scope.cancelled_caught:
            logger.warning("p2p host close timed out after %ss", _CLOSE_GRACE_SECONDS)

    # -- operations ---------------------------------------------------------------------------

    async def connect(self, address: str | multiaddr.Multiaddr) -> ID:
        """Dial a peer at a multiaddr ending in ``/p2p/<peer id>`` and return its id.

        Raises :class:`PeerRefused` if the peer is not in genesis (nothing is dialled),
        :class:`DialError` if it cannot be reached or drops us, :class:`P2PError` for a bad
        address.
        """
        self._require_running()
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(address))
        except (ValueError, TypeError, BaseLibp2pError) as exc:
            raise P2PError(f"bad peer address {str(address)[:200]!r}: {exc}") from exc
        self._allowlist.check(info.peer_id, "outbound dial")
        # An explicit dial is the caller's word on where the peer is now: forget addresses
        # that failed before and lift libp2p's 60 s "recently failed" block, which would
        # otherwise refuse to dial a member that just restarted on a new port.
        self._host.get_peerstore().clear_addrs(info.peer_id)
        self._swarm.unblock_peer(info.peer_id)
        try:
            with trio.fail_after(self._config.dial_timeout):
                await self._host.connect(info)
        except trio.TooSlowError as exc:
            raise DialError(f"dial {info.peer_id} timed out") from exc
        except BaseLibp2pError as exc:
            raise DialError(f"dial {info.peer_id} failed: {exc}") from exc
        return info.peer_id

    async def publish(self, topic: str, data: bytes) -> None:
        """Gossip ``data`` on ``topic`` (see :meth:`Gossip.publish`)."""
        await self._gossip.publish(topic, data)

    async def request(
        self, peer_id: ID, protocol: str, payload: bytes, timeout: float | None = None
    ) -> bytes:
        """One request/response exchange (see :meth:`RequestResponse.request`)."""
        self._require_running()
        return await self._requests.request(peer_id, protocol, payload, timeout)

    async def open_stream(self, peer_id: ID, protocol: str) -> FrameWriter:
        """Open a one-way frame stream (see :meth:`FrameStreams.open`)."""
        self._require_running()
        return await self._streams.open(peer_id, protocol)

    async def wait_for_gossip_peer(self, peer_id: ID, topic: str, timeout: float = 10.0) -> None:
        """Wait until gossip on ``topic`` flows directly to ``peer_id`` (see
        :meth:`Gossip.wait_for_peer`); raises :class:`trio.TooSlowError` after ``timeout``."""
        await self._gossip.wait_for_peer(peer_id, topic, timeout)

    async def wait_connected(self, peer_id: ID, timeout: float = 10.0) -> None:
        """Wait until a connection to ``peer_id`` exists (either side may have dialled);
        raises :class:`trio.TooSlowError` after ``timeout``."""
        with trio.fail_after(timeout):
            await self._presence.wait_connected(peer_id)

    async def wait_disconnected(self, peer_id: ID, timeout: float = 10.0) -> None:
        """Wait until no connection to ``peer_id`` remains; raises :class:`trio.TooSlowError`
        after ``timeout``."""
        with trio.fail_after(timeout):
            await self._presence.wait_disconnected(peer_id)

    def _require_running(self) -> None:
        if not self._running:
            raise NotRunning("the p2p host is not running")


def _refuse_taken_port(config: P2PConfig) -> None:
    """Raise P2PError if another socket listens on the configured port. libp2p listens with
    SO_REUSEPORT, so a second node on the same port would share it silently, the kernel handing
    each inbound connection to either; a probe without SO_REUSEPORT cannot bind beside it."""
    if config.listen_port == 0:
        return
    v6 = ipaddress.ip_address(config.listen_host).version == 6
    with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            probe.bind((config.listen_host, config.listen_port))
        except OSError as exc:
            raise P2PError(f"cannot listen on {config.listen_multiaddr()}: {exc.strerror}") from exc
