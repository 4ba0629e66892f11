"""testnet.layout: the homes, genesis, authority key and network.json of a local network."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from ledger.genesis import Genesis
from ledger.keyfiles import load_secret
from node.config import load_config
from node.provision import peer_id_for
from testnet.layout import LayoutError, create_network, free_ports, load_network


def test_create_network_writes_consistent_homes(tmp_path: Path) -> None:
    net = create_network(tmp_path / "net", 4, threshold=3, base_port=31000)
    assert net.genesis.threshold == 3
    assert net.genesis.quorum == 3  # floor(4/2) + 1
    assert [node.index for node in net.nodes] == [1, 2, 3, 4]
    ports = {node.http_port for node in net.nodes} | {
        int(node.p2p_listen.rsplit("/", 1)[1]) for node in net.nodes
    }
    assert ports == set(range(31000, 31008))
    for node in net.nodes:
        home = net.directory / node.home
        key = SigningKey(load_secret(home / "node_key"))
        box = BoxSecretKey(load_secret(home / "box_key"))
        info = net.genesis.node(node.index)
        assert info is not None
        assert info.verify_key == key.verify_key.raw
        assert info.box_key == box.public_key.raw
        assert info.peer_id == node.peer_id == peer_id_for(key)
        assert Genesis.load(home / "genesis.json") == net.genesis
        config = load_config(home)
        assert config.p2p_listen == node.p2p_listen
        assert config.http_port == node.http_port
        others = {e.p2p_address for e in net.nodes if e.index != node.index}
        assert set(config.peers) == others
        assert all("/p2p/12D3KooW" in peer for peer in config.peers)
        assert stat.S_IMODE((home / "node_key").stat().st_mode) == 0o600
    assert net.authority_key().verify_key.raw == net.genesis.authority_key


def test_network_json_round_trips_through_load(tmp_path: Path) -> None:
    net = create_network(tmp_path, 3, quorum=3, block_interval_ms=200)
    loaded = load_network(tmp_path)
    assert loaded == net
    assert loaded.genesis.block_interval_ms == 200
    document = json.loads((tmp_path / "network.json").read_text())
    assert document["genesis_hash"] == net.genesis.hash().hex()
    assert document["nodes"][0]["http_url"] == net.nodes[0].http_url
    assert document["nodes"][2]["home"] == "node3"


def test_free_ports_are_distinct() -> None:
    ports = free_ports(6)
    assert len(set(ports)) == 6


def test_refuses_to_overwrite_an_existing_network(tmp_path: Path) -> None:
    create_network(tmp_path, 1)
    with pytest.raises(LayoutError, match="already holds a network"):
        create_network(tmp_path, 1)
    (tmp_path / "node1" / "data").mkdir()
    (tmp_path / "node1" / "data" / "old-ledger").write_text("old chain")
    again = create_network(tmp_path, 2, overwrite=True)
    assert len(load_network(tmp_path).nodes) == 2 == len(again.nodes)
    assert not (tmp_path / "node1" / "data").exists()


@pytest.mark.parametrize(
    ("n", "kwargs", "message"),
    [
        (0, {}, "1..64 nodes"),
        (3, {"threshold": 4}, "threshold"),
        (4, {"quorum": 2}, "strict majority"),
        (3, {"base_port": 80}, "base port"),
    ],
)
def test_rejects_bad_parameters(
    tmp_path: Path, n: int, kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(LayoutError, match=message):
        create_network(tmp_path, n, **kwargs)
    assert not (tmp_path / "network.json").exists()


def test_load_network_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="no network"):
        load_network(tmp_path)
    (tmp_path / "network.json").write_text("{not json")
    with pytest.raises(LayoutError, match="not valid JSON"):
        load_network(tmp_path)
    (tmp_path / "network.json").write_text(json.dumps({"version": 1, "nodes": [{}]}))
    with pytest.raises(LayoutError, match="malformed"):
        load_network(tmp_path)

