"""Edges for operators: `init --role edge`, `genesis add-edge`, `genesis install` into an edge
home; and the edge homes `testnet` writes. Each ends in a home `node start --role edge` accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from ledger.genesis import Genesis
from node.assembly import NodePublicInfo
from node.config import GENESIS_FILE, ConfigError, load_config
from node.edge.service import load_edge_identity
from testnet.layout import create_network, free_ports, load_network


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_operator_adds_and_installs_an_edge(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 2)
    genesis_file = tmp_path / "genesis.json"
    network.genesis.save(genesis_file)
    infos = []
    for node in network.nodes:
        path = tmp_path / f"{node.home.name}.json"
        info = NodePublicInfo.of_home(network.directory / node.home)
        path.write_text(json.dumps(info.to_json()))
        infos.append(str(path))

    edge = tmp_path / "edge"
    p2p, http = free_ports(2)
    shown = run(
        "init",
        "--role",
        "edge",
        "--home",
        str(edge),
        "--p2p-port",
        str(p2p),
        "--http-port",
        str(http),
    )
    assert shown["role"] == "edge"
    edge_info = tmp_path / "edge.json"
    edge_info.write_text(json.dumps(NodePublicInfo.of_home(edge).to_json()))
    with pytest.raises(ConfigError):
        load_edge_identity(edge)  # no genesis yet

    added = run("genesis", "add-edge", str(genesis_file), str(edge_info))
    assert added["edges"] == [shown["peer_id"]]
    updated = Genesis.load(genesis_file)
    assert updated.hash().hex() == added["genesis_hash"] != network.genesis.hash().hex()
    # Listing it twice is refused (one peer id, one edge).
    twice = CliRunner().invoke(main, ["genesis", "add-edge", str(genesis_file), str(edge_info)])
    assert twice.exit_code == 1
    assert "cannot add the edges" in twice.output

    installed = run("genesis", "install", "--home", str(edge), str(genesis_file), *infos)
    assert installed["role"] == "edge"
    assert set(load_config(edge).peers) == {n.p2p_address for n in network.nodes}
    identity = load_edge_identity(edge)
    assert identity.peer_id == shown["peer_id"]
    assert Genesis.load(edge / GENESIS_FILE) == updated
    shown_genesis = run("genesis", "show", str(genesis_file))
    assert [e["peer_id"] for e in shown_genesis["edges"]] == [shown["peer_id"]]
    # A consensus node's home is not an edge of this genesis.
    with pytest.raises(ConfigError, match="not an edge"):
        load_edge_identity(network.directory / network.nodes[0].home)


def test_testnet_writes_edge_homes(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 3, edges=2)
    assert [e.home.name for e in network.edges] == ["edge1", "edge2"]
    assert [e.peer_id for e in network.genesis.edges] == [e.peer_id for e in network.edges]
    again = load_network(tmp_path / "net")
    assert again.edges == network.edges
    assert again.genesis == network.genesis
    for edge in network.edges:
        identity = load_edge_identity(network.directory / edge.home)
        assert set(identity.config.peers) == {n.p2p_address for n in network.nodes}
    # Without edges, network.json and the genesis are as before (no edges section).
    plain = create_network(tmp_path / "plain", 2)
    assert "edges" not in json.loads((tmp_path / "plain" / "network.json").read_text())
    assert plain.genesis.version in (1, 2)
