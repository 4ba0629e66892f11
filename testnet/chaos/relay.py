"""A delaying TCP relay: latency and jitter on the links between nodes without ``sch_netem``.

These machines' kernels lack netem (``tc qdisc add ... netem`` fails with "qdisc kind is
unknown"), so each directed link ``a -> b`` goes through a relay instead: node a dials its peer
b at a relay port, and the relay connects on to b's real p2p address. Every chunk read is
written on ``delay + uniform(0, jitter)`` ms later, never before the chunk ahead of it (TCP keeps
order), so both directions of a link are delayed and an exchange costs twice the delay.

In a namespace run the relay's sockets are made inside node a's namespace (the thread enters
it with ``setns`` just for the ``socket()`` call; a socket stays in the namespace it was made
in), so the packets still go from a's address to b's and nftables rules on addresses hold.
The relay runs its own trio loop in a thread, so the harness can start and stop it around the
node processes; delay and jitter are plain attributes read per chunk.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import trio

CLONE_NEWNET = 0x40000000
CHUNK = 65536
#: Chunks queued per direction before the relay stops reading (TCP's own back-pressure).
QUEUE = 64


class RelayError(Exception):
    """The relay could not enter a namespace or bind its ports."""


@contextlib.contextmanager
def in_namespace(name: str | None) -> Iterator[None]:
    """Run the block with this thread in network namespace ``name`` (``ip netns`` name), then
    return to the thread's own; ``None``: stay where it is."""
    if name is None:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                why = os.strerror(ctypes.get_errno())
                raise RelayError(f"cannot enter namespace {name}: {why}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                # A thread left in the wrong namespace would send the harness's traffic astray.
                raise RelayError("cannot return to the harness's namespace")
    finally:
        os.close(own)


@dataclass(frozen=True, slots=True)
class Link:
    """Node ``src`` reaches node ``dst`` at ``listen`` (made in ``namespace``), forwarded to
    ``upstream``."""

    src: int
    dst: int
    namespace: str | None
    listen: tuple[str, int]
    upstream: tuple[str, int]


class Relay:
    """Forwards every link of ``links`` with the current ``delay_ms`` and ``jitter_ms``."""

    def __init__(self, links: Sequence[Link], seed: int = 0) -> None:
        self.links = list(links)
        self.delay_ms = 0
        self.jitter_ms = 0
        self.bytes = {
            pair: 0 for link in self.links for pair in ((link.src, link.dst), (link.dst, link.src))
        }
        self.connections = 0
        self._rng = random.Random(seed)
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def set_delay(self, delay_ms: int, jitter_ms: int) -> None:
        self.delay_ms, self.jitter_ms = max(0, delay_ms), max(0, jitter_ms)

    def start(self, timeout_s: float = 10.0) -> None:
        """Bind every link and start forwarding; raises :class:`RelayError`."""
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True,
                                        name="chaos-relay")
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._failure is not None:
            raise RelayError(f"the relay did not start: {self._failure!r}")

    def stop(self) -> None:
        if self._token is not None and self._cancel is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._cancel.cancel, trio_token=self._token)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = self._token = self._cancel = None

    def to_json(self) -> dict[str, Any]:
        return {
            "links": len(self.links),
            "connections": self.connections,
            "bytes_by_link": {f"{a}->{b}": n for (a, b), n in sorted(self.bytes.items())},
        }

    # -- the loop ----------------------------------------------------------------------------

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        try:
            listeners = [(link, await self._listen(link)) for link in self.links]
        except (OSError, RelayError) as exc:
            self._failure = exc
            self._ready.set()
            return
        with trio.CancelScope() as self._cancel:
            async with trio.open_nursery() as nursery:
                for link, listener in listeners:
                    nursery.start_soon(self._serve, link, listener)
                self._ready.set()
        for _, listener in listeners:
            await listener.aclose()

    async def _listen(self, link: Link) -> trio.SocketListener:
        with in_namespace(link.namespace):
            sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        await sock.bind(link.listen)
        sock.listen(64)
        return trio.SocketListener(sock)

    async def _serve(self, link: Link, listener: trio.SocketListener) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                stream = await listener.accept()
                nursery.start_soon(self._connection, link, stream)

    async def _connection(self, link: Link, inbound: trio.SocketStream) -> None:
        with in_namespace(link.namespace):
            sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            await sock.connect(link.upstream)
        except OSError:
            sock.close()
            await inbound.aclose()
            return
        self.connections += 1
        outbound = trio.SocketStream(sock)
        async with inbound, outbound, trio.open_nursery() as nursery:
            nursery.start_soon(self._direction, inbound, outbound, (link.src, link.dst))
            nursery.start_soon(self._direction, outbound, inbound, (link.dst, link.src))

    async def _direction(
        self, source: trio.SocketStream, sink: trio.SocketStream, key: tuple[int, int]
    ) -> None:
        send, receive = trio.open_memory_channel[tuple[float, bytes]](QUEUE)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write, receive, sink, nursery.cancel_scope)
            last = 0.0
            async with send:
                try:
                    while data := await source.receive_some(CHUNK):
                        self.bytes[key] += len(data)
                        delay = self.delay_ms + self._rng.uniform(0, self.jitter_ms)
                        last = max(last, trio.current_time() + delay / 1000)
                        await send.send((last, data))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    nursery.cancel_scope.cancel()

    async def _write(
        self,
        receive: trio.MemoryReceiveChannel[tuple[float, bytes]],
        sink: trio.SocketStream,
        scope: trio.CancelScope,
    ) -> None:
        try:
            async with receive:
                async for due, data in receive:
                    await trio.sleep_until(due)
                    await sink.send_all(data)
            with contextlib.suppress(OSError):
                await sink.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            # The far side went away: the whole connection ends with it.
            scope.cancel()


def measure(
    relay: Relay, link: Link, echo_namespace: str | None, delay_ms: int, pings: int = 20
) -> dict[str, float]:
    """Median round trip (ms) of one-byte pings through ``link`` of ``relay``, to an echo server
    this starts at ``link.upstream`` (in ``echo_namespace``), with no delay and with
    ``delay_ms``: what the relay itself costs, and how close the added delay comes to the
    configured one. Raises OSError or :class:`RelayError`."""
    with in_namespace(echo_namespace):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(link.upstream)
        server.listen(2)
        server.settimeout(10)
        threading.Thread(target=_echo, args=(server, 2), daemon=True).start()
        saved = (relay.delay_ms, relay.jitter_ms)
        try:
            relay.set_delay(0, 0)
            base = _round_trips(link, pings)
            relay.set_delay(delay_ms, 0)
            delayed = _round_trips(link, pings)
        finally:
            relay.set_delay(*saved)
    base_median, delayed_median = base[len(base) // 2], delayed[len(delayed) // 2]
    return {
        "configured_delay_ms": delay_ms,
        "rtt_without_delay_ms": round(base_median, 2),
        "rtt_with_delay_ms": round(delayed_median, 2),
        "added_one_way_ms": round((delayed_median - base_median) / 2, 2),
    }


def _round_trips(link: Link, pings: int) -> list[float]:
    with in_namespace(link.namespace):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    found = []
    with sock:
        sock.settimeout(10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect(link.listen)
        for _ in range(pings):
            start = time.perf_counter()
            sock.sendall(b"x")
            if sock.recv(1) != b"x":
                raise RelayError("the echo server answered something else")
            found.append((time.perf_counter() - start) * 1000)
    return sorted(found)


def _echo(server: socket.socket, connections: int) -> None:
    """Echo every byte back on ``connections`` connections in turn, then return."""
    with contextlib.suppress(OSError):
        for _ in range(connections):
            conn, _ = server.accept()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while data := conn.recv(CHUNK):
                    conn.sendall(data)
