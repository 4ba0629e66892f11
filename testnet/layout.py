"""Writing and reading local networks: n node homes, one genesis, one authority, on loopback.

:func:`create_network` writes::

    DIR/network.json          what was created (see :meth:`Network.to_json`)
    DIR/authority/            the authority directory (node.ceremony layout, secrets mode 0600):
        authority_key, fame_master_key, domain_shares/node{i}.domain_share
    DIR/node{i}/              a node home (node.config layout) for i = 1..n:
        node_key, box_key, config.toml (peers carry /p2p/<peer id>), genesis.json,
        domain_share (its share of the genesis domain key, sealed to its box key)
    DIR/edge{j}/              an edge home for j = 1..edges: node_key, box_key, config.toml
        (peers: every consensus node), genesis.json (which lists the edge under ``edges``)

Every node lists every other node as a peer, so the network is fully meshed from the first
dial. Ports are either ``base_port + 2(i-1)`` (p2p) and ``base_port + 2(i-1) + 1`` (HTTP), or,
without a base port, ports the operating system reports free at creation time (another
program may still take one before the nodes start; the launcher then reports the bind error).
:func:`load_network` reads ``network.json`` back. Errors are :class:`LayoutError`. The genesis
and the peer lists come from :mod:`node.assembly`, and the authority's keys (a FAME master key,
the domain key dealt t-of-n to the nodes) from :mod:`node.ceremony`, as for nodes on separate
hosts.

Starting the nodes is :mod:`testnet.launcher`; a single home for a network assembled by several
operators is :func:`node.provision.init_node_home`.
"""

from __future__ import annotations

import json
import shutil
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from crypto.errors import DecodeError
from crypto.groups import load_group
from crypto.signing import SigningKey
from ledger.genesis import EdgeInfo, Genesis
from ledger.keyfiles import KeyFileError, load_secret, save_secret, write_atomic
from node.assembly import NodePublicInfo, peers_for
from node.ceremony import AUTHORITY_KEY_FILE, assemble_with_authority
from node.config import GENESIS_FILE, ConfigError, NodeConfig
from node.domain_share import write_domain_share
from node.provision import NodeKeys, write_node_home

NETWORK_FILE = "network.json"
AUTHORITY_DIR = "authority"
NETWORK_VERSION = 1
DEFAULT_CHAIN_ID = "iomtshare-testnet"
MAX_NODES = 64


class LayoutError(Exception):
    """The network cannot be created or read (bad parameters, existing files, bad network.json)."""


@dataclass(frozen=True, slots=True)
class NodeEndpoint:
    """Where node ``index`` lives and how to reach it.

    ``p2p_listen`` is the multiaddr it listens on; ``p2p_address`` the same with ``/p2p/<id>``
    (what peers dial); ``home`` is relative to the network directory in ``network.json``.
    """

    index: int
    home: Path
    peer_id: str
    p2p_listen: str
    http_host: str
    http_port: int

    @property
    def p2p_address(self) -> str:
        return f"{self.p2p_listen}/p2p/{self.peer_id}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"


@dataclass(frozen=True, slots=True)
class Network:
    """A created network: its directory, genesis and nodes (index order)."""

    directory: Path
    genesis: Genesis
    nodes: tuple[NodeEndpoint, ...]
    #: The edge nodes (light nodes; ``index`` is j of ``edge{j}``, not a genesis index).
    edges: tuple[NodeEndpoint, ...] = field(default=())

    @property
    def chain_id(self) -> str:
        return self.genesis.chain_id

    @property
    def authority_dir(self) -> Path:
        return self.directory / AUTHORITY_DIR

    @property
    def authority_key_path(self) -> Path:
        return self.authority_dir / AUTHORITY_KEY_FILE

    @property
    def http_urls(self) -> tuple[str, ...]:
        return tuple(node.http_url for node in self.nodes)

    def authority_key(self) -> SigningKey:
        """The authority's signing key; raises :class:`LayoutError` if the file is bad."""
        try:
            return SigningKey(load_secret(self.authority_key_path))
        except KeyFileError as exc:
            raise LayoutError(str(exc)) from exc

    def node(self, index: int) -> NodeEndpoint:
        if not 1 <= index <= len(self.nodes):
            raise LayoutError(f"no node {index} in a network of {len(self.nodes)}")
        return self.nodes[index - 1]

    def to_json(self) -> dict[str, Any]:
        """What ``network.json`` holds (paths relative to the network directory)."""
        return {
            "version": NETWORK_VERSION,
            "chain_id": self.genesis.chain_id,
            "genesis_hash": self.genesis.hash().hex(),
            "threshold": self.genesis.threshold,
            "quorum": self.genesis.quorum,
            "authority": {
                "key_file": f"{AUTHORITY_DIR}/{AUTHORITY_KEY_FILE}",
                "verify_key": self.genesis.authority_key.hex(),
            },
            "nodes": [_endpoint_json(node) for node in self.nodes],
            # Written only when there are edges, so a network without them reads as before.
            **({"edges": [_endpoint_json(e) for e in self.edges]} if self.edges else {}),
        }


def _endpoint_json(node: NodeEndpoint) -> dict[str, Any]:
    return {
        "index": node.index,
        "home": node.home.as_posix(),
        "peer_id": node.peer_id,
        "p2p_listen": node.p2p_listen,
        "p2p_address": node.p2p_address,
        "http_host": node.http_host,
        "http_port": node.http_port,
        "http_url": node.http_url,
    }


def _endpoint(entry: Any) -> NodeEndpoint:
    return NodeEndpoint(
        index=int(entry["index"]),
        home=Path(str(entry["home"])),
        peer_id=str(entry["peer_id"]),
        p2p_listen=str(entry["p2p_listen"]),
        http_host=str(entry["http_host"]),
        http_port=int(entry["http_port"]),
    )


def load_network(directory: str | Path) -> Network:
    """Read ``DIR/network.json`` and the genesis of node 1; raises :class:`LayoutError`."""
    root = Path(directory)
    path = root / NETWORK_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LayoutError(f"no network in {root}: cannot read {path} ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise LayoutError(f"{path} is not valid JSON: {exc}") from exc
    try:
        if document["version"] != NETWORK_VERSION:
            raise LayoutError(f"{path}: unsupported version {document['version']!r}")
        nodes = tuple(_endpoint(entry) for entry in document["nodes"])
        edges = tuple(_endpoint(entry) for entry in document.get("edges", []))
    except (KeyError, TypeError, ValueError) as exc:
        raise LayoutError(f"{path} is malformed: {exc!r}") from exc
    if not nodes:
        raise LayoutError(f"{path} lists no nodes")
    try:
        genesis = Genesis.load(root / nodes[0].home / GENESIS_FILE)
    except (OSError, KeyError, TypeError, ValueError, DecodeError) as exc:
        raise LayoutError(f"cannot read the genesis of {root}: {exc!r}") from exc
    return Network(root.resolve(), genesis, nodes, edges)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports that were free on ``host`` a moment ago."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def create_network(
    directory: str | Path,
    n: int,
    *,
    threshold: int | None = None,
    quorum: int | None = None,
    base_port: int | None = None,
    host: str = "127.0.0.1",
    chain_id: str = DEFAULT_CHAIN_ID,
    genesis_time_ms: int | None = None,
    pairing_backend: str = "mcl",
    overwrite: bool = False,
    edges: int = 0,
    **genesis_params: int,
) -> Network:
    """Create an ``n``-node network in ``directory`` and return what was written.

    ``threshold`` and ``quorum`` default to ``floor(n/2) + 1``; ``genesis_params`` are passed to
    :meth:`Genesis.create` (e.g. ``block_interval_ms``, ``round_timeout_ms``,
    ``freshness_window_ms``, ``denial_limit``); ``edges`` edge nodes are listed in genesis and
    get homes ``edge{j}``. Raises :class:`LayoutError` for impossible
    parameters or when ``directory`` already holds a network and ``overwrite`` is false.
    """
    root = Path(directory)
    if not 1 <= n <= MAX_NODES:
        raise LayoutError(f"a testnet has 1..{MAX_NODES} nodes, not {n}")
    existing = (root / NETWORK_FILE).exists()
    if existing and not overwrite:
        raise LayoutError(
            f"{root} already holds a network; run it again (`iomtshare testnet start`) "
            "or replace it (--force)"
        )
    if not 0 <= edges <= MAX_NODES:
        raise LayoutError(f"a testnet has 0..{MAX_NODES} edges, not {edges}")
    homes = n + edges
    if base_port is not None and not 1024 <= base_port <= 65535 - 2 * homes:
        raise LayoutError(f"base port {base_port} leaves no room for {homes} nodes and edges")
    ports = (
        list(range(base_port, base_port + 2 * homes))
        if base_port is not None
        else free_ports(2 * homes, host)
    )
    authority = SigningKey.generate()
    keys = [NodeKeys.generate() for _ in range(n)]
    endpoints = _endpoints("node", keys, ports, host)
    configs = [
        NodeConfig(
            p2p_listen=endpoint.p2p_listen,
            http_host=host,
            http_port=endpoint.http_port,
            pairing_backend=pairing_backend,
        )
        for endpoint in endpoints
    ]
    # The genesis, the authority's keys and the peers are made as for operators on separate
    # hosts (node.ceremony, node.assembly), from each node's public info.
    try:
        group = load_group(pairing_backend)
    except (ValueError, ImportError) as exc:
        raise LayoutError(f"pairing backend {pairing_backend!r}: {exc}") from exc
    try:
        infos = [NodePublicInfo.of(k, c) for k, c in zip(keys, configs, strict=True)]
        genesis, shares = assemble_with_authority(
            infos,
            chain_id,
            root / AUTHORITY_DIR,
            group,
            authority=authority,
            overwrite=overwrite,
            genesis_time_ms=genesis_time_ms,
            threshold=threshold,
            quorum=quorum,
            **genesis_params,
        )
    except ConfigError as exc:
        raise LayoutError(f"invalid network parameters: {exc}") from exc
    edge_keys = [NodeKeys.generate() for _ in range(edges)]
    edge_endpoints = _endpoints("edge", edge_keys, ports[2 * n :], host)
    if edges:
        listed = tuple(EdgeInfo(k.peer_id, k.node_key.verify_key.raw) for k in edge_keys)
        genesis = replace(genesis, edges=listed)
    if existing:
        _remove_old_homes(root)
    save_secret(root / AUTHORITY_DIR / AUTHORITY_KEY_FILE, authority.seed())
    for endpoint, node_keys, config, share in zip(endpoints, keys, configs, shares, strict=True):
        peers = peers_for(genesis, infos, endpoint.index)
        home = root / endpoint.home
        write_node_home(home, node_keys, replace(config, peers=peers), genesis)
        write_domain_share(home, share)
    all_nodes = tuple(endpoint.p2p_address for endpoint in endpoints)
    for endpoint, edge_key in zip(edge_endpoints, edge_keys, strict=True):
        config = NodeConfig(
            p2p_listen=endpoint.p2p_listen,
            http_host=host,
            http_port=endpoint.http_port,
            pairing_backend=pairing_backend,
            peers=all_nodes,
        )
        write_node_home(root / endpoint.home, edge_key, config, genesis)
    network = Network(root.resolve(), genesis, endpoints, edge_endpoints)
    write_atomic(root / NETWORK_FILE, (json.dumps(network.to_json(), indent=2) + "\n").encode())
    return network


def _endpoints(
    name: str, keys: list[NodeKeys], ports: list[int], host: str
) -> tuple[NodeEndpoint, ...]:
    """Homes ``{name}1``, ``{name}2``, ... for ``keys``, each taking the next two ``ports``
    (p2p, then HTTP)."""
    return tuple(
        NodeEndpoint(
            index=i,
            home=Path(f"{name}{i}"),
            peer_id=k.peer_id,
            p2p_listen=f"/ip4/{host}/tcp/{ports[2 * (i - 1)]}",
            http_host=host,
            http_port=ports[2 * (i - 1) + 1],
        )
        for i, k in enumerate(keys, start=1)
    )


def _remove_old_homes(root: Path) -> None:
    """Delete the node homes of the network being replaced.

    A ledger in ``node{i}/data`` belongs to the old genesis; a node started on it with the new
    genesis would refuse to run, so an overwrite starts every node from an empty home.
    """
    for home in [*root.glob("node*"), *root.glob("edge*")]:
        if home.is_dir() and home.name.removeprefix("node").removeprefix("edge").isdigit():
            shutil.rmtree(home)


