"""Ordered, batched delivery of consensus frames straight to each peer.

A consensus decision takes five message hops (relay the request, authorization votes, the
claim carrying its block, the prepare votes that also elect, commit votes). Over py-libp2p's
gossipsub each hop costs tens of milliseconds, a request/response exchange about 4 ms, and one
more frame on a stream that is already open about 0.5 ms. So consensus traffic goes to every
peer on a long-lived one-way stream (:mod:`node.p2p.streams`), through one
:class:`PeerLinks`:

* each peer has its own queue, sender task and stream, so a peer receives frames in the order
  they were queued for it;
* the sender writes everything waiting (up to a byte budget) as one
  :class:`~node.wire.FrameBatch`, so a burst of votes costs one write;
* a receiver that cannot keep up stops reading, and the muxer's flow control blocks the writer;
  a write that fails or stays blocked past a timeout closes the stream, puts the batch back at
  the head of the queue and tries again on a new stream after a pause that doubles up to a cap
  (a batch may then arrive twice: consensus ignores a message it already has);
* a peer that stays unreachable fills its queue, and then the oldest frames are dropped and
  counted: consensus resends what still matters when a round ends, and a node that was away
  catches up by sync.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from node.p2p import FrameTooLarge, P2PError
from node.wire import MAX_BATCH_FRAMES, FrameBatch

logger = logging.getLogger("iomtshare.node.peer_links")


class LinkStream(Protocol):
    """An open one-way stream to a peer (:class:`node.p2p.FrameWriter`)."""

    async def send(self, frame: bytes) -> None:
        """Write one frame; raises :class:`P2PError`."""

    async def close(self) -> None:
        """Drop the stream."""


#: ``open(peer_index)`` opens a stream to that peer; raises :class:`P2PError`.
OpenStream = Callable[[int], Awaitable[LinkStream]]


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Queue bound and retry pacing of each peer's link."""

    #: Frames waiting for one peer; beyond this the oldest are dropped.
    max_queued: int = 1024
    #: Bytes of frames per batch (a larger single frame still goes, alone).
    max_batch_bytes: int = 4 * 1024 * 1024
    #: A write blocked this long (the peer stopped reading) counts as a broken stream.
    write_timeout: float = 10.0
    first_pause: float = 0.005
    max_pause: float = 1.0

    def __post_init__(self) -> None:
        if self.max_queued < 1 or self.max_batch_bytes < 1 or self.write_timeout <= 0:
            raise ValueError("max_queued, max_batch_bytes and write_timeout must be positive")
        if not 0 < self.first_pause <= self.max_pause:
            raise ValueError("pauses must satisfy 0 < first_pause <= max_pause")


class _Queue:
    """One peer's waiting frames, oldest first, with a bound that drops the oldest."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._frames: deque[bytes] = deque()
        self._ready = trio.Event()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, frame: bytes) -> None:
        self._frames.append(frame)
        self._trim()
        self._ready.set()

    def take(self, max_bytes: int) -> list[bytes]:
        """Remove and return the oldest frames: at least one, then as many as fit."""
        batch = [self._frames.popleft()]
        size = len(batch[0])
        while self._frames and len(batch) < MAX_BATCH_FRAMES:
            if size + len(self._frames[0]) > max_bytes:
                break
            frame = self._frames.popleft()
            size += len(frame)
            batch.append(frame)
        return batch

    def put_back(self, batch: list[bytes]) -> None:
        """Return an unsent batch to the head of the queue (it is still the oldest)."""
        self._frames.extendleft(reversed(batch))
        self._trim()

    async def wait(self) -> None:
        while not self._frames:
            self._ready = trio.Event()
            await self._ready.wait()

    def _trim(self) -> None:
        while len(self._frames) > self._limit:
            self._frames.popleft()
            self.dropped += 1


class PeerLinks:
    """Per-peer ordered senders of consensus frames; see the module docstring.

    :meth:`send` and :meth:`broadcast` never block; :meth:`run` (start it with
    ``nursery.start``) runs one sender task per peer until cancelled.
    """

    def __init__(
        self, peers: Iterable[int], open_stream: OpenStream, settings: LinkSettings | None = None
    ) -> None:
        self._settings = settings or LinkSettings()
        self._open = open_stream
        self._queues = {peer: _Queue(self._settings.max_queued) for peer in peers}

    @property
    def peers(self) -> tuple[int, ...]:
        return tuple(self._queues)

    def send(self, peer: int, frame: bytes) -> None:
        """Queue ``frame`` for ``peer``; raises ``KeyError`` for a peer this link does not serve."""
        self._queues[peer].push(frame)

    def broadcast(self, frame: bytes) -> None:
        """Queue ``frame`` for every peer."""
        for queue in self._queues.values():
            queue.push(frame)

    def queued(self, peer: int) -> int:
        """Frames waiting for ``peer`` (the batch being written excluded)."""
        return len(self._queues[peer])

    def dropped(self, peer: int) -> int:
        """Frames dropped for ``peer`` because its queue was full, since the start."""
        return self._queues[peer].dropped

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for peer in self._queues:
                nursery.start_soon(self._pump, peer)
            task_status.started()

    async def _pump(self, peer: int) -> None:
        queue = self._queues[peer]
        settings = self._settings
        stream: LinkStream | None = None
        pause = 0.0
        reported_drops = 0
        try:
            while True:
                await queue.wait()
                batch: list[bytes] = []
                try:
                    if stream is None:
                        stream = await self._open(peer)
                    batch = queue.take(settings.max_batch_bytes)
                    with trio.fail_after(settings.write_timeout):
                        await stream.send(FrameBatch(tuple(batch)).to_bytes())
                except FrameTooLarge as exc:
                    logger.warning("frames dropped node=%d reason=%s", peer, exc)
                    continue
                except (P2PError, trio.TooSlowError) as exc:
                    queue.put_back(batch)
                    if stream is not None:
                        await stream.close()
                        stream = None
                    reason = str(exc) or type(exc).__name__
                    if pause == 0.0:
                        logger.info("link down node=%d reason=%s", peer, reason)
                    pause = min(max(2 * pause, settings.first_pause), settings.max_pause)
                    logger.debug("link retry node=%d in=%.3fs reason=%s", peer, pause, reason)
                    await trio.sleep(pause)
                    continue
                if pause > 0.0:
                    logger.info("link up node=%d", peer)
                pause = 0.0
                if queue.dropped > reported_drops:
                    logger.warning(
                        "frames dropped node=%d count=%d reason=queue full while unreachable",
                        peer,
                        queue.dropped - reported_drops,
                    )
                    reported_drops = queue.dropped
        finally:
            if stream is not None:
                await stream.close()
