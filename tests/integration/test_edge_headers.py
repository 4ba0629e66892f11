"""An edge keeps up with 200+ blocks of a real 4-node network, one node of which forges headers.

Four ``iomtshare node start`` processes and one ``--role edge`` process, started with the
testnet launcher (as ``testnet up --edges 1`` does) except that node 4 runs in the test-only
Byzantine mode ``forge-headers`` (:mod:`node.byzantine`): its consensus is honest, but every
non-empty header batch it serves the edge starts with a header under a commit QC whose
signatures are not over it. Blocks are made as cheaply as the network allows: a 10 ms batching
delay and one authority-signed member registration submitted whenever the asked node has
nothing pending, so nearly every block holds one small transaction.

Then, at every height, the edge's verified header is the block each consensus node committed;
node 4's forgeries were refused and counted against it alone, and the header rate limit never
refused the edge's normal polling. ``explore edges`` and ``testnet status`` show the edge.
Waits are deadline-bounded polls of the HTTP API.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import httpx
import pytest
from click.testing import CliRunner

from cli.main import main
from client import NodeClient
from client.session import now_ms
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from ledger.transactions import MemberRole, RegisterMember, member_id_for
from node.byzantine import TEST_BYZANTINE_ENV
from testnet import launcher
from testnet.edges import launch_edges
from testnet.layout import Network, create_network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: Committed blocks the network is driven to.
BLOCKS = 200
FORGER = 4
#: Bound on the processes' start (slow on a loaded machine) and on each later wait.
STARTUP = 180.0
PATIENCE = 120.0
#: The node answers ``GET /blocks`` with at most this many blocks at a time.
PAGE = 100


@dataclass(frozen=True)
class Driven:
    network: Network
    height: int  # every consensus node committed at least this far


def registration(authority: SigningKey, chain_id: str) -> bytes:
    """A RegisterMember of a fresh member: one Ed25519 and one X25519 key, one signature."""
    key = SigningKey.generate()
    tx = RegisterMember(
        member_id=member_id_for(key.verify_key),
        verify_key=key.verify_key.raw,
        box_key=BoxSecretKey.generate().public_key.raw,
        role=int(MemberRole.REQUESTER),
        attributes=(),
        registered_at_ms=now_ms(),
    )
    return tx.signed(authority, chain_id).to_bytes()


def drive(network: Network, clients: list[NodeClient], blocks: int) -> int:
    """Submit registrations, one whenever the node asked has none pending, until every node
    committed ``blocks`` blocks; return the lowest node height then."""
    authority = network.authority_key()
    deadline = time.monotonic() + PATIENCE + blocks
    turn = 0
    while True:
        assert time.monotonic() < deadline, "the network did not commit blocks fast enough"
        heights = []
        for client in clients:
            status = client.status()
            heights.append(int(status["height"]))
            if status["pending"] == 0 and heights[-1] < blocks and turn % len(clients) == 0:
                client.submit_tx(registration(authority, network.chain_id))
            turn += 1
        if min(heights) >= blocks:
            return min(heights)
        time.sleep(0.01)


def block_hashes(client: NodeClient, height: int) -> list[str]:
    """The hashes of the node's blocks 1..``height``, a page at a time."""
    hashes: list[str] = []
    while len(hashes) < height:
        page = client.blocks(len(hashes) + 1, height, PAGE)
        assert page, f"{client.base_url} has no block {len(hashes) + 1}"
        hashes += [block["hash"] for block in page]
    return hashes


@pytest.fixture(scope="module")
def driven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driven]:
    directory: Path = tmp_path_factory.mktemp("edge-headers") / "net"
    network = create_network(directory, 4, edges=1, block_interval_ms=10)
    try:
        processes = {}
        for node in network.nodes:
            extra = {TEST_BYZANTINE_ENV: "forge-headers"} if node.index == FORGER else {}
            home = directory / node.home
            with mock.patch.dict(os.environ, extra):
                processes[node.index] = launcher.spawn(launcher.node_command(home), home)
        launcher.wait_ready(network, processes, STARTUP)
        launch_edges(network, STARTUP)
        clients = [NodeClient(node.http_url) for node in network.nodes]
        yield Driven(network, drive(network, clients, BLOCKS))
    finally:
        launcher.stop(directory)


def edge_get(network: Network, path: str) -> httpx.Response:
    return httpx.get(network.edges[0].http_url + path, timeout=5.0)


def test_the_edge_holds_every_block_every_node_committed(driven: Driven) -> None:
    network, height = driven.network, driven.height
    assert height >= BLOCKS
    deadline = time.monotonic() + PATIENCE
    while (health := edge_get(network, "/health").json())["height"] < height:
        assert time.monotonic() < deadline, f"the edge stayed at {health['height']} < {height}"
        time.sleep(0.2)
    assert health["peers_connected"] == 4

    nodes = [block_hashes(NodeClient(node.http_url), height) for node in network.nodes]
    with httpx.Client(base_url=network.edges[0].http_url, timeout=5.0) as edge:
        for h in range(1, height + 1):
            answer = edge.get(f"/headers/{h}")
            assert answer.status_code == 200, answer.text
            header = answer.json()
            assert header["height"] == h
            assert {hashes[h - 1] for hashes in nodes} == {header["block_hash"]}, f"height {h}"
    # The rate limit let the edge's ordinary polling through at every node.
    for node in network.nodes:
        log = (network.directory / node.home / launcher.LOG_FILE).read_text(errors="replace")
        assert "header requests refused" not in log, f"node {node.index}"


def test_forged_headers_of_the_byzantine_node_are_refused_and_counted(driven: Driven) -> None:
    network = driven.network
    forger = network.genesis.nodes[FORGER - 1].peer_id
    log = (network.directory / network.node(FORGER).home / launcher.LOG_FILE).read_text()
    assert "TEST ONLY: Byzantine modes forge-headers" in log
    health = edge_get(network, "/health").json()
    assert health["headers_refused"] >= 1
    assert set(health["headers_refused_by_peer"]) == {forger}
    edge_log = (network.directory / network.edges[0].home / launcher.LOG_FILE).read_text()
    assert f"header batch refused peer={forger}" in edge_log
    assert health["height"] >= driven.height


def test_operators_see_the_edge_in_explore_edges_and_testnet_status(driven: Driven) -> None:
    network = driven.network
    directory = str(network.directory)
    runner = CliRunner()
    shown = runner.invoke(main, ["explore", "edges", "--testnet", directory, "--json"])
    assert shown.exit_code == 0, shown.output
    [row] = json.loads(shown.stdout)
    assert row["peer_id"] == network.edges[0].peer_id
    assert row["verify_key"] == network.genesis.edges[0].verify_key.hex()
    assert row["height"] >= driven.height
    assert row["peers_connected"] == 4
    assert row["headers_refused"] >= 1
    # From a node's genesis, and the edge by its URL.
    by_url = runner.invoke(
        main,
        ["explore", "edges", "--node", network.node(1).http_url, "--url",
         network.edges[0].http_url, "--json"],
        env={"IOMTSHARE_TESTNET": None},
    )
    assert by_url.exit_code == 0, by_url.output
    listed, asked = json.loads(by_url.stdout)
    assert listed["peer_id"] == network.edges[0].peer_id
    assert asked["http_url"] == network.edges[0].http_url
    assert asked["height"] >= driven.height

    status = runner.invoke(main, ["testnet", "status", "--dir", directory, "--json"])
    assert status.exit_code == 0, status.output
    states = json.loads(status.stdout)
    assert [(s["role"], s["index"]) for s in states] == [
        ("node", 1), ("node", 2), ("node", 3), ("node", 4), ("edge", 1)
    ]
    edge = states[-1]
    assert edge["running"]
    assert edge["peers_connected"] == 4
    assert edge["height"] >= driven.height
