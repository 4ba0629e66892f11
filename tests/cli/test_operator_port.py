"""A node whose p2p port is already taken by another node fails at start with a clear error.

libp2p listens with SO_REUSEPORT, so before the fix a second node on the same port started
silently and the kernel shared the inbound connections between the two.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from testnet.layout import create_network

#: Bound on the node process's start (imports, key loading); never slept.
PATIENCE = 60.0


def _listen_like_libp2p(host: str, port: int) -> socket.socket:
    """A listener with the socket options py-libp2p's TCP transport sets on its own."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen()
    return sock


def test_a_second_node_on_a_taken_p2p_port_exits_with_an_error(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 1)
    node = network.node(1)
    port = int(node.p2p_listen.rsplit("/", 1)[1])
    first = _listen_like_libp2p("127.0.0.1", port)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "node", "start", "--home", str(network.directory / "node1")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while process.poll() is None:
            # A node that got as far as serving HTTP shared the port without a word.
            try:
                httpx.get(f"{node.http_url}/status", timeout=1.0)
            except httpx.HTTPError:
                pass
            else:
                raise AssertionError("the node started on a p2p port another node listens on")
            assert time.monotonic() < deadline, "the node neither failed nor started"
            time.sleep(0.2)
        output = process.communicate(timeout=PATIENCE)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        first.close()
    assert process.returncode == 1, output
    assert f"cannot listen on /ip4/127.0.0.1/tcp/{port}: Address already in use" in output
