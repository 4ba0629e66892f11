"""CPU and time of one consensus-link hop: two libp2p hosts in one process echo frames.

Host A writes a frame on its long-lived frame stream to B (:mod:`node.p2p.streams`), B writes
it back on its own stream to A, and A waits for it: one round trip is two frames written and
two read, through Noise, yamux and TCP on loopback. Both hosts run in this process, so the
process's CPU time per round trip is the whole cost of the two hops (the kernel's part
included).

Measured four ways in one run: the receiver reads each frame with one stream read through
:class:`~node.p2p.framing.FrameBuffer` (as the node does) or with two (length prefix, then
body, as :func:`~node.p2p.framing.read_frame` does and the node's link reader did until
2026-12-06); and yamux gives window credit back once half the window was read (as the node
asks, ``PY_YAMUX_RELEASE_ON_READ=0``) or after every read (py-libp2p's default). The variable
is read by py-libp2p on every read, so it can change between measurements.

Usage: ``python -m bench.link_hop [--round-trips N] [--sizes 200,700,4096] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol

from bench.report import format_table
from crypto.signing import SigningKey
from node.p2p import P2PConfig, P2PHost, PeerAllowlist
from node.p2p.framing import ByteStream, FrameBuffer, read_frame

PROTOCOL = "/iomtshare/bench/hop/1"
WARMUP = 50
RELEASE_ON_READ = "PY_YAMUX_RELEASE_ON_READ"

#: A reader of one stream's frames: ``reader(stream)`` gives a ``next()`` coroutine factory.
Reader = Callable[[ByteStream, int], Callable[[], Awaitable[bytes | None]]]


def _buffered(stream: ByteStream, limit: int) -> Callable[[], Awaitable[bytes | None]]:
    return FrameBuffer(stream, limit).next


def _two_reads(stream: ByteStream, limit: int) -> Callable[[], Awaitable[bytes | None]]:
    async def next_frame() -> bytes | None:
        return await read_frame(stream, limit)

    return next_frame


READERS: dict[str, Reader] = {"one read per batch": _buffered, "prefix, then body": _two_reads}
WINDOW_UPDATES = {"at half the window": "0", "after every read": "1"}


_Channel = tuple[trio.MemorySendChannel[bytes], trio.MemoryReceiveChannel[bytes]]


class _Echo:
    """Both ends: each host's handler queues the frames it reads."""

    def __init__(self, reader: Reader, limit: int) -> None:
        self.reader = reader
        self.limit = limit
        self.inbox: dict[int, _Channel] = {
            side: trio.open_memory_channel(math.inf) for side in (0, 1)
        }

    def handler(self, side: int) -> Callable[[INetStream], Awaitable[None]]:
        # A raw libp2p handler, so that the stream can be read the way this measurement asks
        # (the node's own handler always reads through FrameBuffer).
        async def handle(stream: INetStream) -> None:
            next_frame = self.reader(stream, self.limit)
            while (frame := await next_frame()) is not None:
                await self.inbox[side][0].send(frame)

        return handle


async def _round_trips(reader: Reader, size: int, count: int) -> tuple[float, float]:
    """Wall and CPU seconds per round trip of a ``size``-byte frame."""
    keys = [SigningKey(bytes([i + 1]) * 32) for i in range(2)]
    allowlist = PeerAllowlist.from_verify_keys(k.verify_key for k in keys)
    config = P2PConfig(max_frame_bytes=1 << 20)
    echo = _Echo(reader, config.max_frame_bytes)
    hosts = [P2PHost(k, allowlist, config) for k in keys]
    for side, host in enumerate(hosts):
        host.libp2p.set_stream_handler(TProtocol(PROTOCOL), echo.handler(side))
    async with trio.open_nursery() as nursery:
        for host in hosts:
            await nursery.start(host.run)
        a, b = hosts
        await a.connect(str(b.listen_addrs()[0]))
        to_b = await a.open_stream(b.peer_id, PROTOCOL)
        to_a = await b.open_stream(a.peer_id, PROTOCOL)

        async def bounce() -> None:
            while True:
                await to_a.send(await echo.inbox[1][1].receive())

        nursery.start_soon(bounce)
        payload = bytes(size)
        for _ in range(WARMUP):
            await to_b.send(payload)
            await echo.inbox[0][1].receive()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            await to_b.send(payload)
            await echo.inbox[0][1].receive()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        nursery.cancel_scope.cancel()
    return wall / count, cpu / count


def run(round_trips: int, sizes: list[int]) -> tuple[str, dict[str, object]]:
    rows, figures = [], []
    saved = os.environ.get(RELEASE_ON_READ)
    try:
        for size in sizes:
            for reader_name, reader in READERS.items():
                for window_name, value in WINDOW_UPDATES.items():
                    os.environ[RELEASE_ON_READ] = value
                    wall, cpu = trio.run(_round_trips, reader, size, round_trips)
                    figures.append(
                        {"frame_bytes": size, "reader": reader_name, "window_updates": window_name,
                         "round_trip_ms": wall * 1e3, "cpu_ms": cpu * 1e3}
                    )
                    rows.append([str(size), reader_name, window_name,
                                 f"{wall * 1e3:.3f}", f"{cpu * 1e3:.3f}"])
    finally:
        if saved is None:
            os.environ.pop(RELEASE_ON_READ, None)
        else:
            os.environ[RELEASE_ON_READ] = saved
    table = format_table(
        f"consensus-link round trip on loopback, {round_trips} per row (two frames written and "
        "two read; both hosts in this process)",
        ["frame bytes", "receiver reads", "yamux window updates", "round trip ms", "CPU ms"],
        rows,
    )
    return table, {"benchmark": "link_hop", "round_trips": round_trips, "rows": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--sizes", default="200,700,4096")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    table, figures = run(args.round_trips, sizes)
    print(table)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
