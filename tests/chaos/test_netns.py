"""Namespaces, cuts and loss on a real bridge (root only), and the fallback to loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.config import load_config
from testnet.chaos import netns
from testnet.chaos.fabric import FabricError, LoopbackFabric
from testnet.chaos.netns import NamespaceFabric, choose_fabric, clean_leftovers
from testnet.chaos.relay import in_namespace
from testnet.layout import create_network

needs_namespaces = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None,
    reason="network namespaces need root, ip and nft",
)
PORT = 45123


@pytest.fixture
def fabric() -> Iterator[NamespaceFabric]:
    made = NamespaceFabric(3)
    made.build()
    try:
        yield made
    finally:
        made.teardown()


def reachable(fabric: NamespaceFabric, src: int, dst: int) -> bool:
    """Can node ``src``'s namespace open a TCP connection to node ``dst``'s address?"""
    with in_namespace(fabric.namespace(dst)):
        server = socket.socket()
    with in_namespace(fabric.namespace(src)):
        client = socket.socket()
    with server, client:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((fabric.address(dst), PORT))
        server.listen(1)
        client.settimeout(0.5)
        try:
            client.connect((fabric.address(dst), PORT))
        except OSError:
            return False
        return True


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          check=True).stdout


@needs_namespaces
def test_cuts_are_one_way_and_heal(fabric: NamespaceFabric) -> None:
    assert reachable(fabric, 1, 2)
    fabric.cut([(1, 2)])
    assert not reachable(fabric, 1, 2)
    # TCP needs both directions, so 2 -> 1 fails too, but only because of the answers: a
    # third node still reaches both.
    assert reachable(fabric, 3, 1)
    assert reachable(fabric, 3, 2)
    fabric.heal()
    assert reachable(fabric, 1, 2)


@needs_namespaces
def test_the_harness_reaches_a_node_that_is_cut_off(fabric: NamespaceFabric) -> None:
    fabric.cut([(1, 2), (1, 3), (2, 1), (3, 1)])
    fabric.lose(1, 100)
    with in_namespace(fabric.namespace(1)):
        server = socket.socket()
    with server, socket.socket() as client:
        server.bind((fabric.address(1), PORT))
        server.listen(1)
        client.settimeout(2)
        client.connect((fabric.address(1), PORT))
    assert not reachable(fabric, 2, 1)


@needs_namespaces
def test_total_loss_drops_everything_between_nodes(fabric: NamespaceFabric) -> None:
    fabric.lose(2, 100)
    fabric.lose(3, 30)  # a partial loss is one nft rule with a random draw
    assert not reachable(fabric, 1, 2)
    fabric.heal()
    assert reachable(fabric, 1, 2)
    with pytest.raises(FabricError, match="percentage"):
        fabric.lose(2, 101)


@needs_namespaces
def test_teardown_and_cleanup_leave_nothing(tmp_path: Path) -> None:
    made = NamespaceFabric(2)
    made.build()
    assert made.namespace(1) in namespaces()
    # Only this fabric's tag: a chaos run going on beside the test keeps its namespaces.
    lines = clean_leftovers(tmp_path, tag=made.tag)
    assert f"deleted namespace {made.namespace(1)}" in lines
    assert f"deleted bridge {made.bridge}" in lines
    assert made.namespace(1) not in namespaces()
    made.teardown()  # safe after a cleanup
    assert clean_leftovers(tmp_path, tag=made.tag) == ["nothing to clean"]


def test_auto_falls_back_to_loopback_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "_namespaces_unavailable", lambda: "not root")
    said: list[str] = []
    chosen = choose_fabric("auto", 4, said.append)
    assert isinstance(chosen, LoopbackFabric)
    assert chosen.note is not None
    assert "not root" in chosen.note
    assert said == [chosen.note]
    with pytest.raises(FabricError, match="not root"):
        choose_fabric("netns", 4, said.append)


def test_loopback_placement_sends_every_peer_link_through_the_relay(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 3)
    fabric = LoopbackFabric()
    try:
        placed = fabric.place(network)
        assert fabric.relay is not None
        relay_ports = {link.listen[1] for link in fabric.relay.links}
        for node in placed.nodes:
            config = load_config(placed.directory / node.home)
            assert len(config.peers) == 2
            for peer in config.peers:
                assert int(peer.split("/")[4]) in relay_ports
            assert config.p2p_listen == node.p2p_listen
        assert fabric.latency_probe["added_one_way_ms"] >= fabric.latency_probe[
            "configured_delay_ms"]
    finally:
        fabric.teardown()
    assert fabric.relay is None
