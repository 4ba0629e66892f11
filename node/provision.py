"""Writing a node home: fresh keys, ``config.toml`` and optionally ``genesis.json``; and
wiping its data while keeping its identity.

The inverse of :mod:`node.home`, which reads a home back. ``iomtshare init`` writes one home
for a network assembled by several operators with :func:`init_node_home` (its genesis comes
later: :mod:`node.assembly`); ``testnet.layout`` writes the homes of a local network with
:func:`write_node_home`; ``iomtshare node reset`` is :func:`reset_node_data`.
Errors are :class:`~node.config.ConfigError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from ledger.genesis import Genesis, NodeInfo
from ledger.keyfiles import KeyFileError, load_secret, save_secret, write_atomic
from node.config import (
    BOX_KEY_FILE,
    CONFIG_FILE,
    DATA_DIR,
    GENESIS_FILE,
    NODE_KEY_FILE,
    ConfigError,
    NodeConfig,
    advertised_address,
    check_addresses,
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

    @classmethod
    def load(cls, home: Path) -> NodeKeys:
        """The keys of an existing home; raises :class:`ConfigError` if a key file is bad."""
        try:
            node_key = SigningKey(load_secret(home / NODE_KEY_FILE))
            box_key = BoxSecretKey(load_secret(home / BOX_KEY_FILE))
        except KeyFileError as exc:
            raise ConfigError(str(exc)) from exc
        return cls(node_key, box_key, peer_id_for(node_key))

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
        write_genesis(home, genesis)


def write_genesis(home: Path, genesis: Genesis) -> None:
    """Write ``genesis.json`` into ``home`` (replacing any, atomically)."""
    write_atomic(home / GENESIS_FILE, (json.dumps(genesis.to_json(), indent=2) + "\n").encode())


def init_node_home(
    home: str | Path,
    *,
    p2p_port: int,
    http_port: int,
    p2p_host: str = "127.0.0.1",
    http_host: str = "127.0.0.1",
    p2p_advertise: str | None = None,
    http_allow_public: bool = False,
    peers: Sequence[str] = (),
    genesis: Genesis | None = None,
    pairing_backend: str = "mcl",
    overwrite: bool = False,
) -> NodeKeys:
    """Write fresh keys and ``config.toml`` (and ``genesis.json`` if given) into ``home``.

    The node listens on ``p2p_host``:``p2p_port`` and is dialled at ``p2p_advertise`` (a
    multiaddr without ``/p2p``; ``None``: where it listens). Raises :class:`ConfigError` for a
    malformed address, or if ``home`` already holds a config or key and ``overwrite`` is false,
    so an existing node identity is never replaced by accident.
    """
    path = Path(home)
    family = "ip6" if ":" in p2p_host else "ip4"
    extra: dict[str, Any] = {"http_allow_public": True} if http_allow_public else {}
    config = NodeConfig(
        p2p_listen=f"/{family}/{p2p_host}/tcp/{p2p_port}",
        http_host=http_host,
        http_port=http_port,
        peers=tuple(peers),
        pairing_backend=pairing_backend,
        extra=extra,
        p2p_advertise=p2p_advertise,
    )
    check_addresses(config)
    existing = [n for n in (CONFIG_FILE, NODE_KEY_FILE, BOX_KEY_FILE) if (path / n).exists()]
    if existing and not overwrite:
        raise ConfigError(f"{path} already holds {', '.join(existing)}; refusing to overwrite")
    keys = NodeKeys.generate()
    # Refused now rather than when the operator exports the node's info for the genesis.
    advertised_address(config, keys.peer_id)
    write_node_home(path, keys, config, genesis)
    return keys


def reset_node_data(home: Path) -> bool:
    """Delete ``home/data`` (ledgers, stored fragments, node-local shares) and keep the keys,
    config and genesis, so the node starts again from block 1 as the same member.

    Returns whether there was data to delete. Raises :class:`ConfigError` if ``home`` is not a
    node home or a node is running on it (its LevelDB stores are locked).
    """
    if not (home / NODE_KEY_FILE).is_file() or not (home / CONFIG_FILE).is_file():
        raise ConfigError(f"{home} is not a node home (no {NODE_KEY_FILE} and {CONFIG_FILE})")
    data = home / DATA_DIR
    if not data.exists():
        return False
    for lock in data.rglob("LOCK"):
        if _locked(lock):
            raise ConfigError(
                f"a node is running on {home} ({lock.parent.relative_to(home)} is locked); "
                "stop it first"
            )
    shutil.rmtree(data)
    return True


def _locked(lock_file: Path) -> bool:
    """Whether another process holds LevelDB's lock on ``lock_file`` (a POSIX record lock,
    which is what LevelDB takes, so trying to take it ourselves tells)."""
    try:
        with open(lock_file, "r+b") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            with contextlib.suppress(OSError):
                fcntl.lockf(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False
