"""Gossipsub topics with one handler each, published only by the validators of genesis.

Every message is signed by its origin (libp2p's strict signing). Before a message is accepted,
delivered or relayed, a topic validator checks its size and that both the origin and the peer
that forwarded it are publishers (the validators: light peers such as genesis edges are admitted
to the network but may not publish); a rejected message is counted, goes no further, and is
logged once per forwarding peer per burst (:mod:`node.p2p.quiet_log`). A handler sees each
accepted message once; the node's own publications are not handed back to it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.exceptions import BaseLibp2pError
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from node.p2p.errors import GossipTooLarge, NotRunning, P2PError
from node.p2p.metrics import P2PMetrics
from node.p2p.quiet_log import QuietLog
from node.p2p.reconnect import StalePubsubStreamReaper

logger = logging.getLogger("iomtshare.node.p2p.gossip")

# Room for the pubsub RPC framing around the payload: topic, seqno, key, signature, peer record.
_RPC_OVERHEAD_BYTES = 16 * 1024

# py-libp2p queues at most 32 RPCs per peer for writing and drops more without a word (debug
# log only). Publishing waits while a queue is this full, so a burst from one task is paced
# by the writers instead of being dropped...
_PEER_QUEUE_HIGH_WATER = 24
# ...but never longer than this in total, so one stuck peer cannot stall every publisher.
_PACING_LIMIT_SECONDS = 2.0
_PACING_STEP_SECONDS = 0.001


@dataclass(frozen=True, slots=True)
class GossipMessage:
    """One accepted gossip message: its topic, payload and the (verified) publishing peer."""

    topic: str
    data: bytes
    origin: ID


#: ``handler(message)``; exceptions are logged and the message is dropped.
GossipHandler = Callable[[GossipMessage], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class GossipSettings:
    """Gossipsub tuning. The defaults suit a small permissioned network (tens of nodes)."""

    max_message_bytes: int = 1024 * 1024
    heartbeat_seconds: int = 1
    mesh_degree: int = 6
    mesh_degree_low: int = 4
    mesh_degree_high: int = 12
    #: Accepted messages waiting for a topic's handler; beyond this they are dropped (logged).
    handler_backlog: int = 1024


class Gossip:
    """Owns the pubsub service of one host and the handlers of its topics; messages from or
    forwarded by a peer outside ``publishers`` are rejected."""

    def __init__(
        self,
        host: IHost,
        publishers: Collection[ID],
        settings: GossipSettings,
        metrics: P2PMetrics,
    ) -> None:
        self._host = host
        self._metrics = metrics
        self._publishers = publishers
        self._settings = settings
        self._quiet = QuietLog(logger)
        # Spam and eclipse protections assume an open network: rate limits would drop bursts
        # of consensus votes, and IP diversity cannot hold on one machine. Membership is
        # enforced by the allowlist instead.
        self._router = GossipSub(
            protocols=[PROTOCOL_ID_V11, PROTOCOL_ID],
            degree=settings.mesh_degree,
            degree_low=settings.mesh_degree_low,
            degree_high=settings.mesh_degree_high,
            heartbeat_interval=settings.heartbeat_seconds,
            spam_protection_enabled=False,
            eclipse_protection_enabled=False,
        )
        self._pubsub = Pubsub(
            host,
            self._router,
            strict_signing=True,
            max_inbound_rpc_size=settings.max_message_bytes + _RPC_OVERHEAD_BYTES,
        )
        host.get_network().register_notifee(StalePubsubStreamReaper(self._pubsub))
        self._handlers: dict[str, GossipHandler] = {}
        self._started = False
        self._running = False

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    def add_topic(self, topic: str, handler: GossipHandler) -> None:
        """Subscribe ``handler`` to ``topic`` when the service starts (call before starting)."""
        if self._started:
            raise P2PError("topics must be added before the host starts")
        if topic in self._handlers:
            raise P2PError(f"topic {topic} already has a handler")
        self._handlers[topic] = handler

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run pubsub and one delivery task per topic until cancelled."""
        self._started = True
        async with (
            background_trio_service(self._pubsub),
            background_trio_service(self._router),
        ):
            await self._pubsub.wait_until_ready()
            async with trio.open_nursery() as nursery:
                for topic, handler in self._handlers.items():
                    self._pubsub.set_topic_validator(
                        topic, functools.partial(self._accept, topic), False
                    )
                    inbox = await self._subscribe(topic)
                    nursery.start_soon(self._deliver, topic, inbox, handler)
                self._running = True
                try:
                    task_status.started()
                    await trio.sleep_forever()
                finally:
                    self._running = False

    async def publish(self, topic: str, data: bytes) -> None:
        """Sign and send ``data`` on ``topic``.

        Raises :class:`GossipTooLarge` above the size limit and :class:`NotRunning` before the
        service has started.
        """
        if not self._running:
            raise NotRunning("gossip is not running")
        if len(data) > self._settings.max_message_bytes:
            raise GossipTooLarge(
                f"gossip of {len(data)} bytes exceeds the limit of "
                f"{self._settings.max_message_bytes}"
            )
        await self._wait_for_queue_room(topic)
        try:
            await self._pubsub.publish(topic, data)
        except BaseLibp2pError as exc:
            raise P2PError(f"publish on {topic} failed: {exc}") from exc
        self._metrics.gossip_published.labels(topic).inc()

    async def _wait_for_queue_room(self, topic: str) -> None:
        with trio.move_on_after(_PACING_LIMIT_SECONDS) as scope:
            while any(
                len(queue) >= _PEER_QUEUE_HIGH_WATER for queue in self._pubsub.peer_queues.values()
            ):
                await trio.sleep(_PACING_STEP_SECONDS)
        if scope.cancelled_caught:
            logger.warning(
                "gossip publish not paced topic=%s reason=peer queue still full after %ss; "
                "some peers may miss this message",
                topic,
                _PACING_LIMIT_SECONDS,
            )

    async def wait_for_peer(self, peer_id: ID, topic: str, timeout: float) -> None:
        """Wait until ``peer_id`` is in this host's mesh for ``topic``, so that what this host
        publishes next reaches it directly. Raises :class:`trio.TooSlowError` after ``timeout``.

        Every subscribed peer joins the mesh while the network has at most ``mesh_degree_high``
        members; beyond that, gossip still reaches the others through the mesh's relays.
        """
        await self._router.wait_for_mesh(peer_id, topic, timeout=timeout)

    def subscribers(self, topic: str) -> frozenset[ID]:
        """The peers this host currently knows to be subscribed to ``topic``."""
        return frozenset(self._pubsub.peer_topics.get(topic, ()))

    def _accept(self, topic: str, forwarder: ID, message: rpc_pb2.Message) -> bool:
        """Topic validator: size and publisher checks, with the reason logged on rejection."""
        me = self._host.get_id()
        origin = ID(message.from_id)
        reason = kind = None
        if len(message.data) > self._settings.max_message_bytes:
            kind = "too_large"
            reason = f"size {len(message.data)} > {self._settings.max_message_bytes}"
        elif origin != me and origin not in self._publishers:
            kind, reason = "outsider_origin", "origin is not a validator"
        elif forwarder != me and forwarder not in self._publishers:
            kind, reason = "outsider_forwarder", "forwarder is not a validator"
        if kind is None:
            return True
        self._metrics.gossip_dropped.labels(topic, kind).inc()
        self._quiet.warning(
            forwarder,
            "gossip dropped topic=%s origin=%s forwarder=%s reason=%s",
            topic,
            origin,
            forwarder,
            reason,
        )
        return False

    async def _subscribe(self, topic: str) -> trio.MemoryReceiveChannel[rpc_pb2.Message]:
        """Subscribe to ``topic`` and return its queue of accepted messages.

        py-libp2p queues at most 32 undelivered messages per topic and drops the rest; a burst
        of votes overflows that before any consumer task gets scheduled. So the queue pubsub
        fills is swapped for one of ``handler_backlog`` entries (libp2p still logs a drop as
        "fail to deliver message to subscription").
        """
        subscription = await self._pubsub.subscribe(topic)
        send, receive = trio.open_memory_channel[rpc_pb2.Message](self._settings.handler_backlog)
        original = self._pubsub.subscribed_topics_send[topic]
        self._pubsub.subscribed_topics_send[topic] = send
        await original.aclose()
        # Anything that arrived while subscribing is carried over, in order.
        async for message in subscription:
            send.send_nowait(message)
        return receive

    async def _deliver(
        self,
        topic: str,
        inbox: trio.MemoryReceiveChannel[rpc_pb2.Message],
        handler: GossipHandler,
    ) -> None:
        me = self._host.get_id()
        async for raw in inbox:
            origin = ID(raw.from_id)
            if origin == me:
                continue
            self._metrics.gossip_received.labels(topic).inc()
            try:
                await handler(GossipMessage(topic, bytes(raw.data), origin))
            except Exception:
                # One bad message or handler bug must not stop delivery on the topic.
                logger.exception("gossip handler failed topic=%s origin=%s", topic, origin)
