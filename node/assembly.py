"""One genesis for nodes run by different operators on different hosts.

Each operator runs ``iomtshare init`` and exports the node's public info
(:class:`NodePublicInfo`: peer id, the two public keys, the advertised p2p address; no secret).
Whoever assembles the genesis lists the infos, in the order that gives the node indexes, with
:func:`assemble_genesis`. Each operator then installs that genesis and the infos into its home
with :func:`install_genesis`, which also makes the other nodes its peers. ``testnet.layout``
writes its local networks with the same functions, so there is one way to build a genesis.

Errors are :class:`~node.config.ConfigError` and name the info or node they are about.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crypto.dual import SealedDomainShare
from crypto.groups import load_group
from crypto.signing import VerifyKey
from ledger.genesis import EdgeInfo, Genesis, GenesisError, NodeInfo
from node.config import (
    GENESIS_FILE,
    ConfigError,
    NodeConfig,
    advertised_address,
    check_peer,
    load_config,
    save_config,
)
from node.domain_share import (
    DOMAIN_SHARE_FILE,
    open_share,
    read_sealed_share,
    write_domain_share,
)
from node.provision import NodeKeys, write_genesis

INFO_VERSION = 1
_INFO_FIELDS = ("version", "peer_id", "verify_key", "box_key", "p2p_address")


@dataclass(frozen=True, slots=True)
class NodePublicInfo:
    """What one operator tells the others about its node: nothing secret.

    ``p2p_address`` is where the others dial it, ending in ``/p2p/<peer_id>``. Construction
    checks that the address names this peer and that the peer id is the one of ``verify_key``
    (libp2p authenticates a peer by that key, so a mismatch could never connect).
    """

    peer_id: str
    verify_key: bytes
    box_key: bytes
    p2p_address: str

    def __post_init__(self) -> None:
        if len(self.verify_key) != 32 or len(self.box_key) != 32:
            raise ConfigError("verify_key and box_key are 32-byte keys (64 hex digits)")
        if check_peer(self.p2p_address) != self.peer_id:
            raise ConfigError(
                f"p2p_address {self.p2p_address!r} does not end in /p2p/{self.peer_id}"
            )
        if _peer_id_of(self.verify_key) != self.peer_id:
            raise ConfigError(f"peer id {self.peer_id} is not the one of verify_key")

    @classmethod
    def of(cls, keys: NodeKeys, config: NodeConfig) -> NodePublicInfo:
        """The info of a node with these keys and config (raises if it has no dialable address)."""
        return cls(
            peer_id=keys.peer_id,
            verify_key=keys.node_key.verify_key.raw,
            box_key=keys.box_key.public_key.raw,
            p2p_address=advertised_address(config, keys.peer_id),
        )

    @classmethod
    def of_home(cls, home: Path) -> NodePublicInfo:
        """The info of the node in ``home`` (its keys and config.toml; no genesis needed)."""
        return cls.of(NodeKeys.load(home), load_config(home))

    def genesis_entry(self, index: int) -> NodeInfo:
        return NodeInfo(index, self.peer_id, self.verify_key, self.box_key)

    def edge_entry(self) -> EdgeInfo:
        """This node's entry in a genesis as an edge (no index, no box key: it gets no shares)."""
        return EdgeInfo(self.peer_id, self.verify_key)

    def matches(self, node: NodeInfo) -> bool:
        return (node.peer_id, node.verify_key, node.box_key) == (
            self.peer_id, self.verify_key, self.box_key
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": INFO_VERSION,
            "peer_id": self.peer_id,
            "verify_key": self.verify_key.hex(),
            "box_key": self.box_key.hex(),
            "p2p_address": self.p2p_address,
        }

    @classmethod
    def from_json(cls, document: Any, source: str = "node info") -> NodePublicInfo:
        """Read :meth:`to_json` output; raises ConfigError naming ``source`` and the field."""
        if not isinstance(document, dict):
            raise ConfigError(f"{source}: a node info is a JSON object")
        unknown = sorted(set(document) - set(_INFO_FIELDS))
        missing = [name for name in _INFO_FIELDS if name not in document]
        if unknown or missing:
            raise ConfigError(f"{source}: missing fields {missing}, unknown fields {unknown}")
        if document["version"] != INFO_VERSION:
            raise ConfigError(f"{source}: unsupported version {document['version']!r}")
        if not all(isinstance(document[name], str) for name in _INFO_FIELDS[1:]):
            raise ConfigError(f"{source}: peer_id, verify_key, box_key, p2p_address are strings")
        try:
            verify_key = bytes.fromhex(document["verify_key"])
            box_key = bytes.fromhex(document["box_key"])
        except ValueError as exc:
            raise ConfigError(f"{source}: verify_key and box_key must be hex") from exc
        try:
            return cls(document["peer_id"], verify_key, box_key, document["p2p_address"])
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> NodePublicInfo:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not JSON: {exc}") from exc
        return cls.from_json(document, str(path))


def _peer_id_of(verify_key: bytes) -> str:
    """The base58 libp2p peer id of a raw Ed25519 verify key."""
    from node.p2p.identity import peer_id_of

    return str(peer_id_of(VerifyKey(verify_key)).to_base58())


def assemble_genesis(
    infos: Sequence[NodePublicInfo],
    chain_id: str,
    authority_key: bytes,
    *,
    genesis_time_ms: int | None = None,
    threshold: int | None = None,
    quorum: int | None = None,
    **params: int,
) -> Genesis:
    """The genesis of the nodes ``infos`` (node i is ``infos[i-1]``), with the authority's
    verify key and chain parameters (see :meth:`Genesis.create`; time defaults to now).

    Raises ConfigError if two infos share a peer id or an address, or a parameter is invalid.
    """
    for what in ("peer_id", "p2p_address"):
        seen: dict[str, int] = {}
        for position, info in enumerate(infos, start=1):
            value = getattr(info, what)
            if value in seen:
                raise ConfigError(
                    f"node infos {seen[value]} and {position} have the same {what} {value}"
                )
            seen[value] = position
    try:
        return Genesis.create(
            chain_id,
            tuple(info.genesis_entry(i) for i, info in enumerate(infos, start=1)),
            authority_key,
            genesis_time_ms=genesis_time_ms if genesis_time_ms is not None else _now_ms(),
            threshold=threshold,
            quorum=quorum,
            **params,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid genesis parameters: {exc}") from exc


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def check_genesis(genesis: Genesis) -> None:
    """Raise ConfigError if a genesis node's or edge's peer id is not the one of its verify
    key (it could never be connected to: libp2p authenticates peers by that key)."""
    for node in genesis.nodes:
        if _peer_id_of(node.verify_key) != node.peer_id:
            raise ConfigError(
                f"genesis node {node.index}: peer id is not the one of its verify_key"
            )
    for edge in genesis.edges:
        if _peer_id_of(edge.verify_key) != edge.peer_id:
            raise ConfigError(f"genesis edge {edge.peer_id}: peer id is not the one of its key")


def install_edge_genesis(
    home: Path, genesis: Genesis, infos: Sequence[NodePublicInfo], *, overwrite: bool = False
) -> tuple[str, ...]:
    """Write ``genesis`` into the edge home ``home`` and make every consensus node of
    ``infos`` its peer; returns the peers. Raises ConfigError if the home's key is not an edge
    of ``genesis``, the infos do not cover every node, or the home holds another genesis and
    ``overwrite`` is false."""
    keys = NodeKeys.load(home)
    check_genesis(genesis)
    edge = genesis.edge(keys.peer_id)
    if edge is None or edge.verify_key != keys.node_key.verify_key.raw:
        raise ConfigError(f"the key of {home} ({keys.peer_id}) is not an edge of this genesis")
    _refuse_other_genesis(home, genesis, overwrite)
    # An edge has no genesis index: 0 makes peers_for list every consensus node.
    peers = peers_for(genesis, infos, 0)
    write_genesis(home, genesis)
    save_config(home, replace(load_config(home), peers=peers))
    return peers


def _refuse_other_genesis(home: Path, genesis: Genesis, overwrite: bool) -> None:
    current = home / GENESIS_FILE
    if current.exists() and not overwrite:
        try:
            same = Genesis.load(current) == genesis
        except (OSError, GenesisError):
            same = False
        if not same:
            raise ConfigError(
                f"{current} holds another genesis; replace it with --force "
                "(and `iomtshare node reset` if the node has run on it)"
            )


def peers_for(genesis: Genesis, infos: Sequence[NodePublicInfo], own: int) -> tuple[str, ...]:
    """The addresses node ``own`` dials: every other genesis node's, in index order.

    Raises ConfigError if an info is not a genesis node or another node has no info.
    """
    addresses: dict[int, str] = {}
    for info in infos:
        node = next((n for n in genesis.nodes if info.matches(n)), None)
        if node is None:
            raise ConfigError(f"node info {info.peer_id} is not a node of this genesis")
        addresses[node.index] = info.p2p_address
    missing = [n.index for n in genesis.nodes if n.index != own and n.index not in addresses]
    if missing:
        raise ConfigError(f"no node info (address) for genesis node(s) {missing}")
    return tuple(addresses[i] for i in sorted(addresses) if i != own)


def install_genesis(
    home: Path,
    genesis: Genesis,
    infos: Sequence[NodePublicInfo],
    *,
    overwrite: bool = False,
    domain_share: SealedDomainShare | None = None,
) -> int:
    """Write ``genesis`` into ``home`` and make the other nodes of ``infos`` its peers; with
    ``domain_share``, also this node's sealed share of the genesis domain key.

    Returns this node's index. Raises ConfigError if the home's node is not in the genesis (or
    its box key differs), if the infos do not cover the other nodes, if the home already holds a
    different genesis and ``overwrite`` is false (its ledger belongs to that one), or if the
    genesis deals a domain key and neither ``domain_share`` nor the home holds this node's share
    of it (nothing is written then).
    """
    keys = NodeKeys.load(home)
    config = load_config(home)
    check_genesis(genesis)
    own = next(
        (n for n in genesis.nodes if n.verify_key == keys.node_key.verify_key.raw), None
    )
    if own is None:
        raise ConfigError(f"the node of {home} ({keys.peer_id}) is not in this genesis")
    if own.box_key != keys.box_key.public_key.raw:
        raise ConfigError(f"genesis node {own.index} has another box key than {home}")
    _refuse_other_genesis(home, genesis, overwrite)
    peers = peers_for(genesis, infos, own.index)
    if genesis.domain is not None or domain_share is not None:
        source = "--domain-share"
        if domain_share is None:
            if not (home / DOMAIN_SHARE_FILE).exists():
                raise ConfigError(
                    "this genesis deals a domain key: give this node's share "
                    f"(the authority's domain_shares/node{own.index}.domain_share)"
                )
            source = str(home / DOMAIN_SHARE_FILE)
            domain_share = read_sealed_share(home / DOMAIN_SHARE_FILE)
        group = load_group(config.pairing_backend)
        open_share(domain_share, genesis, own.index, keys.box_key, group, source)
    write_genesis(home, genesis)
    if domain_share is not None:
        write_domain_share(home, domain_share)
    save_config(home, replace(config, peers=peers))
    return own.index
