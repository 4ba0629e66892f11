"""A host that shuts down stops accepting before it drops its links.

libp2p closes a host's connections before its listeners, and by then the shutdown has already
stopped the swarm's task manager. A peer that sees its link drop dials straight back, the
still-open listener accepts, and registering that connection fails: every node shutdown printed
libp2p ``LifecycleError`` tracebacks. (The real-process check is in
``test_node_process_hostile.py``; this one pins the order, which timing alone shows only now
and then.)
"""

from __future__ import annotations

import socket
from typing import Any

import trio

from tests.node.p2p.p2p_testing import build_peer, connect_all, seeded_key, trio_test


def accepts(port: int) -> bool:
    """Whether something listens on loopback ``port`` (a loopback connect answers at once)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return True
    except ConnectionRefusedError:
        return False


@trio_test
async def test_the_listener_is_closed_before_libp2p_drops_the_links() -> None:
    keys = [seeded_key(0), seeded_key(1)]
    leaving, staying = (build_peer(key, keys) for key in keys)
    accepting_when_links_drop: list[bool] = []
    async with trio.open_nursery() as staying_nursery:
        await staying_nursery.start(staying.host.run)
        async with trio.open_nursery() as leaving_nursery:
            await leaving_nursery.start(leaving.host.run)
            await connect_all([leaving, staying])
            port = int(leaving.host.listen_addrs()[0].value_for_protocol("tcp"))
            # The libp2p host inside P2PHost: its close() drops the connections first.
            libp2p_host: Any = leaving.host._host
            close_links = libp2p_host.close

            async def probing_close() -> None:
                accepting_when_links_drop.append(accepts(port))
                await close_links()

            libp2p_host.close = probing_close
            leaving_nursery.cancel_scope.cancel()
        staying_nursery.cancel_scope.cancel()
    assert accepting_when_links_drop == [False]
