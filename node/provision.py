"""Writing a node home: fresh keys, ``config.toml`` and optionally ``genesis.json``.

The inverse of :mod:`node.home`, which reads a home back. ``iomtshare init`` writes one home
for a hand-assembled network with :func:`init_node_home`; ``testnet.layout`` writes the homes
of a local network with :func:`write_node_home`. Errors are :class:`~node.config.ConfigError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from ledger.genesis import Genesis, NodeInfo
from ledger.keyfiles import save_secret, write_atomic
from node.config import (
    BOX_KEY_FILE,
    CONFIG_FILE,
    GENESIS_FILE,
    NODE_KEY_FILE,
    ConfigError,
    NodeConfig,
    save_config,
)


def peer_id_for(node_key: SigningKey) -> str:
    """The base58 libp2p peer id of a node key (imports libp2p, hence the late import)."""
    from node.p2p.identity import peer_id_of

    return str(peer_id_of(node_key.verify_key).to_base58())


@dataclass(frozen=True, slots=True)
class NodeKeys:
    """The secrets of one node home and the public facts derived from them."""

    node_key: SigningKey
    box_key: BoxSecretKey
    peer_id: str

    @classmethod
    def generate(cls) -> NodeKeys:
        node_key = SigningKey.generate()
        return cls(node_key, BoxSecretKey.generate(), peer_id_for(node_key))

    def info(self, index: int) -> NodeInfo:
        """This node's entry in a genesis, as node ``index``."""
        return NodeInfo(
            index=index,
            peer_id=self.peer_id,
            verify_key=self.node_key.verify_key.raw,
            box_key=self.box_key.public_key.raw,
        )


def write_node_home(
    home: Path, keys: NodeKeys, config: NodeConfig, genesis: Genesis | None
) -> None:
    """Write the key files, ``config.toml`` and optionally ``genesis.json`` of one node."""
    home.mkdir(parents=True, exist_ok=True)
    save_secret(home / NODE_KEY_FILE, keys.node_key.seed())
    save_secret(home / BOX_KEY_FILE, keys.box_key.secret_bytes())
    save_config(home, config)
    if genesis is not None:
        write_atomic(
            home / GENESIS_FILE, (json.dumps(genesis.to_json(), indent=2) + "\n").encode()
        )


def init_node_home(
    home: str | Path,
    *,
    p2p_port: int,
    http_port: int,
    host: str = "127.0.0.1",
    peers: Sequence[str] = (),
    genesis: Genesis | None = None,
    pairing_backend: str = "mcl",
    overwrite: bool = False,
) -> NodeKeys:
    """Write fresh keys and ``config.toml`` (and ``genesis.json`` if given) into ``home``.

    Raises :class:`ConfigError` if ``home`` already holds a config or key and ``overwrite`` is
    false, so an existing node identity is never replaced by accident.
    """
    path = Path(home)
    existing = [n for n in (CONFIG_FILE, NODE_KEY_FILE, BOX_KEY_FILE) if (path / n).exists()]
    if existing and not overwrite:
        raise ConfigError(f"{path} already holds {', '.join(existing)}; refusing to overwrite")
    keys = NodeKeys.generate()
    write_node_home(
        path,
        keys,
        NodeConfig(
            p2p_listen=f"/ip4/{host}/tcp/{p2p_port}",
            http_host=host,
            http_port=http_port,
            peers=tuple(peers),
            pairing_backend=pairing_backend,
        ),
        genesis,
    )
    return keys
