"""node.provision: writing one node home (keys, config.toml, genesis.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crypto.signing import SigningKey
from ledger.genesis import Genesis
from ledger.keyfiles import load_secret
from node.config import ConfigError, load_config
from node.home import load_identity
from node.provision import NodeKeys, init_node_home, peer_id_for, write_node_home


def test_init_node_home_keeps_an_existing_identity(tmp_path: Path) -> None:
    keys = init_node_home(tmp_path / "home", p2p_port=4001, http_port=4002)
    assert load_config(tmp_path / "home").http_port == 4002
    assert keys.peer_id == peer_id_for(SigningKey(load_secret(tmp_path / "home" / "node_key")))
    assert not (tmp_path / "home" / "genesis.json").exists()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        init_node_home(tmp_path / "home", p2p_port=4001, http_port=4002)


def test_a_written_home_with_its_genesis_reads_back_as_that_node(tmp_path: Path) -> None:
    authority = SigningKey.generate()
    keys = [NodeKeys.generate() for _ in range(3)]
    genesis = Genesis.create(
        "provision-test",
        tuple(k.info(i) for i, k in enumerate(keys, start=1)),
        authority.verify_key.raw,
        genesis_time_ms=1,
    )
    init_node_home(tmp_path / "other", p2p_port=4003, http_port=4004, genesis=genesis)
    home = tmp_path / "node2"
    config = load_config(tmp_path / "other")
    write_node_home(home, keys[1], config, genesis)
    identity = load_identity(home)
    assert identity.index == 2
    assert identity.node_key.verify_key.raw == keys[1].node_key.verify_key.raw
    assert Genesis.from_json(json.loads((home / "genesis.json").read_text())) == genesis
    # A home written with fresh keys is not one of the genesis nodes: refused when read.
    with pytest.raises(ConfigError, match="not one of the genesis nodes"):
        load_identity(tmp_path / "other")
