"""The node home directory: config round trips, bad files give ConfigError (key files:
tests/ledger/test_keyfiles.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.config import ConfigError, NodeConfig, load_config, save_config

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(
    listen=texts,
    host=texts,
    port=st.integers(0, 65535),
    peers=st.lists(texts, max_size=4),
    level=texts,
)
def test_config_round_trip(listen: str, host: str, port: int, peers: list[str], level: str) -> None:
    config = NodeConfig(listen, host, port, tuple(peers), level, "mcl", {"answer": 42})
    assert NodeConfig.from_toml(config.to_toml()) == config


def test_save_and_load(tmp_path: Path) -> None:
    config = NodeConfig("/ip4/127.0.0.1/tcp/4001", peers=("/ip4/127.0.0.1/tcp/4002/p2p/Qm",))
    save_config(tmp_path, config)
    assert load_config(tmp_path) == config


@pytest.mark.parametrize(
    "text",
    [
        "not toml = = =",
        "version = 1\n",
        'version = 2\np2p_listen = "/ip4/127.0.0.1/tcp/1"\n',
        "version = 1\np2p_listen = 5\n",
        'version = 1\np2p_listen = "x"\nhttp_port = 70000\n',
        'version = 1\np2p_listen = "x"\nhttp_port = true\n',
        'version = 1\np2p_listen = "x"\npeers = "one"\n',
    ],
)
def test_bad_config_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        NodeConfig.from_toml(text)


def test_missing_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)

