"""An edge (light node) following a real 4-node network started by ``testnet up --edges 1``.

Members are registered and an owner grants and a requester is granted access through the client
library; then, at every height, the edge's verified header must be the block every consensus
node committed; a restarted edge resumes from its stored headers; a home whose edge key the
genesis does not list neither starts nor connects (more on admission in
tests/node/edge/test_admission.py). Waits are deadline-bounded polls of the HTTP API.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from client import MemberKeys, NodeClient
from client.authority import register_member
from client.member import publish_tpre_key
from client.owner import grant_access, put_file
from client.requester import request_access, wait_decision
from client.session import Session
from crypto.groups import load_group
from ledger.transactions import MemberRole
from node.p2p import DialError, P2PHost, PeerAllowlist, parse_peer_id
from node.provision import NodeKeys
from testnet.layout import Network, load_network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PATIENCE = 60.0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=200
    )


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory: Path = tmp_path_factory.mktemp("edge") / "net"
    up = cli("testnet", "up", "--nodes", "4", "--edges", "1", "--dir", str(directory), "--json")
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        yield load_network(directory)
    finally:
        cli("testnet", "down", "--dir", str(directory))


def edge_get(network: Network, path: str) -> httpx.Response:
    return httpx.get(network.edges[0].http_url + path, timeout=5.0)


def owner_and_requester(network: Network) -> tuple[Session, MemberKeys, MemberKeys]:
    """A session on node 1 and a fresh owner and requester, registered with their TPRE keys."""
    group = load_group()
    session = Session(NodeClient(network.node(1).http_url), group)
    authority = network.authority_key()
    owner = MemberKeys.generate(group, MemberRole.OWNER)
    requester = MemberKeys.generate(group, MemberRole.REQUESTER)
    for keys in (owner, requester):
        register_member(session, authority, keys.public(), timeout=PATIENCE)
        publish_tpre_key(session, keys, timeout=PATIENCE)
    return session, owner, requester


def test_edge_header_chain_matches_every_node(network: Network) -> None:
    assert len(network.edges) == 1
    assert network.genesis.edges[0].peer_id == network.edges[0].peer_id
    health = edge_get(network, "/health").json()
    assert health["role"] == "edge"
    assert health["peers_connected"] == 4

    session, owner, requester = owner_and_requester(network)
    record = put_file(session, owner, b"edge follows\n" * 500, name="e.csv", timeout=PATIENCE)
    grant_access(session, owner, record.record_id, requester.member_id, timeout=PATIENCE)
    decision = wait_decision(
        session, request_access(session, requester, record.record_id), PATIENCE
    )
    assert decision.status == "granted"

    clients = [NodeClient(node.http_url) for node in network.nodes]
    target = min(int(client.status()["height"]) for client in clients)
    assert target >= 5
    deadline = time.monotonic() + PATIENCE
    while edge_get(network, "/health").json()["height"] < target:
        assert time.monotonic() < deadline, "the edge did not catch up with the nodes"
        time.sleep(0.2)

    for height in range(1, target + 1):
        answer = edge_get(network, f"/headers/{height}")
        assert answer.status_code == 200, answer.text
        header = answer.json()
        hashes = {client.block(height)["hash"] for client in clients}
        assert hashes == {header["block_hash"]}, f"height {height}"
        assert len(header["commit_qc"]["signers"]) >= network.genesis.quorum
    assert edge_get(network, f"/headers/{target + 1000}").status_code == 404
    assert edge_get(network, "/health").json()["headers_refused"] == 0


def test_a_restarted_edge_resumes_from_its_stored_headers(network: Network) -> None:
    height = edge_get(network, "/health").json()["height"]
    assert height >= 5
    down = cli("testnet", "down", "--dir", str(network.directory))
    assert down.returncode == 0, down.stderr
    start = cli("testnet", "start", "--dir", str(network.directory), "--json")
    assert start.returncode == 0, start.stderr + start.stdout
    # The edge reads its tip from LevelDB before it talks to any node.
    log = (network.directory / network.edges[0].home / "node.log").read_text()
    started = [line for line in log.splitlines() if "edge started" in line]
    assert len(started) == 2
    assert f"height={height} " in started[-1]
    health = edge_get(network, "/health").json()
    assert health["peers_connected"] == 4
    assert health["height"] >= height


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_edge_key_the_genesis_does_not_list_is_refused(
    network: Network, tmp_path: Path
) -> None:
    """A home made with ``init --role edge`` but never added to the genesis: its edge does not
    start, and its key is refused by a running consensus node at connection time."""
    home, node = tmp_path / "rogue", network.node(1)
    made = cli(
        "init", "--home", str(home), "--role", "edge",
        "--genesis", str(network.directory / "node1" / "genesis.json"),
        "--p2p-port", str(free_port()), "--http-port", str(free_port()),
        "--peer", node.p2p_address,
    )
    assert made.returncode == 0, made.stderr
    started = cli("node", "start", "--role", "edge", "--home", str(home))
    assert started.returncode != 0
    assert "is not an edge of this genesis" in started.stderr + started.stdout

    async def dial() -> None:
        rogue = P2PHost(
            NodeKeys.load(home).node_key, PeerAllowlist.of([parse_peer_id(node.peer_id)])
        )
        async with trio.open_nursery() as nursery:
            with trio.fail_after(PATIENCE):
                await nursery.start(rogue.run)
                with pytest.raises(DialError):
                    await rogue.connect(node.p2p_address)
            nursery.cancel_scope.cancel()

    trio.run(dial)
    # Nothing of it reached the chain: the network still lists one edge and commits on.
    assert edge_get(network, "/health").json()["peers_connected"] == 4
