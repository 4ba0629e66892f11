"""Helpers for the p2p tests: run trio tests, build groups of connected hosts, watch logs."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import trio
from libp2p.peer.id import ID

from crypto.signing import SigningKey
from node.p2p import (
    GossipMessage,
    GossipSettings,
    P2PConfig,
    P2PHost,
    PeerAllowlist,
    RequestRejected,
    peer_id_of,
)

TOPIC = "iomtshare/test/1"
#: Generous bound for anything that should happen "soon"; never used to sleep.
PATIENCE = 20.0

TEST_CONFIG = P2PConfig(
    max_frame_bytes=64 * 1024,
    request_timeout=5.0,
    gossip=GossipSettings(max_message_bytes=16 * 1024),
)


def trio_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test function under ``trio.run`` (keeps pytest fixtures working)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        trio.run(functools.partial(fn, *args, **kwargs))

    return wrapper


def seeded_key(index: int) -> SigningKey:
    """A deterministic node key, distinct per index."""
    return SigningKey(bytes([index + 1]) * 32)


@dataclass
class Peer:
    """One running host plus an inbox per topic it subscribes to."""

    key: SigningKey
    host: P2PHost
    inbox: dict[str, trio.MemoryReceiveChannel[GossipMessage]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return str(self.host.listen_addrs()[0])

    async def next_message(self, topic: str = TOPIC) -> GossipMessage:
        with trio.fail_after(PATIENCE):
            return await self.inbox[topic].receive()


def build_peer(
    key: SigningKey,
    allowed: Sequence[SigningKey],
    *,
    topics: Sequence[str] = (TOPIC,),
    config: P2PConfig = TEST_CONFIG,
    setup: Callable[[P2PHost], None] | None = None,
    validators: Sequence[SigningKey] | None = None,
) -> Peer:
    """A host for ``key`` that allows the peers of ``allowed``, with an inbox per topic; only
    ``validators`` (default: all of ``allowed``) may publish gossip."""
    allowlist = PeerAllowlist.from_verify_keys(k.verify_key for k in allowed)
    voters = None if validators is None else [peer_id_of(k.verify_key) for k in validators]
    peer = Peer(key, P2PHost(key, allowlist, config, validators=voters))
    for topic in topics:
        send, receive = trio.open_memory_channel[GossipMessage](math.inf)

        async def collect(message: GossipMessage, send: Any = send) -> None:
            await send.send(message)

        peer.host.add_topic(topic, collect)
        peer.inbox[topic] = receive
    if setup is not None:
        setup(peer.host)
    return peer


async def connect_all(peers: Sequence[Peer], topics: Sequence[str] = (TOPIC,)) -> None:
    """Connect every pair and wait until gossip on ``topics`` flows between all of them."""
    with trio.fail_after(PATIENCE):
        for i, left in enumerate(peers):
            for right in peers[i + 1 :]:
                await left.host.connect(right.address)
        for left in peers:
            for right in peers:
                if left is not right:
                    for topic in topics:
                        await left.host.wait_for_gossip_peer(right.host.peer_id, topic)


@asynccontextmanager
async def host_group(
    n: int,
    *,
    topics: Sequence[str] = (TOPIC,),
    config: P2PConfig = TEST_CONFIG,
    setup: Callable[[P2PHost], None] | None = None,
    connect: bool = True,
) -> AsyncIterator[list[Peer]]:
    """Run ``n`` genesis members on loopback (fully connected unless ``connect`` is false).

    Leaving the block cancels every host and waits for all their tasks to end.
    """
    keys = [seeded_key(i) for i in range(n)]
    peers = [build_peer(k, keys, topics=topics, config=config, setup=setup) for k in keys]
    async with trio.open_nursery() as nursery:
        for peer in peers:
            await nursery.start(peer.host.run)
        if connect:
            await connect_all(peers, topics)
        yield peers
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def running(peer: Peer) -> AsyncIterator[Peer]:
    """Run one extra host (e.g. an outsider) for the duration of the block."""
    async with trio.open_nursery() as nursery:
        await nursery.start(peer.host.run)
        yield peer
        nursery.cancel_scope.cancel()


class LogWatcher(logging.Handler):
    """Collects log records and lets a trio task wait for one containing some text."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []
        self._changed = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self._changed.set()
        self._changed = trio.Event()

    def seen(self, *needles: str) -> bool:
        return any(all(n in m for n in needles) for m in self.messages)

    async def wait_for(self, *needles: str) -> None:
        """Wait until a record contains every needle; fails after :data:`PATIENCE`."""
        with trio.fail_after(PATIENCE):
            while not self.seen(*needles):
                await self._changed.wait()


@contextmanager
def watch_logs(name: str = "iomtshare.node.p2p") -> Iterator[LogWatcher]:
    watcher = LogWatcher()
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(watcher)
    try:
        yield watcher
    finally:
        logger.removeHandler(watcher)
        logger.setLevel(previous)


def all_tasks() -> set[trio.lowlevel.Task]:
    """Every task currently alive in this trio run."""
    found: set[trio.lowlevel.Task] = set()
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        found.add(task)
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return found


def peer_id_for(key: SigningKey) -> Any:
    return peer_id_of(key.verify_key)


#: A protocol answering ``<requester peer id>|<payload>``.
ECHO = "/iomtshare/test/echo/1"


def serve_echo(host: P2PHost) -> None:
    async def echo(peer: ID, payload: bytes) -> bytes:
        return bytes(peer.to_bytes()) + b"|" + payload

    host.add_protocol(ECHO, echo)


def serve_failures(host: P2PHost) -> None:
    """Protocols that crash, refuse, stall and answer too much, plus the echo protocol."""

    async def broken(peer: ID, payload: bytes) -> bytes:
        raise KeyError("secret internal detail")

    async def picky(peer: ID, payload: bytes) -> bytes:
        raise RequestRejected("record not granted to you")

    async def stalls(peer: ID, payload: bytes) -> bytes:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def huge(peer: ID, payload: bytes) -> bytes:
        return bytes(64 * 1024)

    host.add_protocol("/t/broken/1", broken)
    host.add_protocol("/t/picky/1", picky)
    host.add_protocol("/t/stalls/1", stalls)
    host.add_protocol("/t/huge/1", huge)
    serve_echo(host)
