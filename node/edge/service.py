"""Running an edge: its identity from a home directory, and the services around its header chain.

An edge home looks like a consensus node's (``node_key``, ``box_key``, ``config.toml`` whose
peers are the consensus nodes, ``genesis.json``), but its key is listed in genesis under
``edges``, not ``nodes``: it has no index, no vote, no re-encryption or domain share. It
connects only to genesis consensus nodes, follows their headers (:mod:`node.edge.follower`)
into a LevelDB store under ``data/headers``, fetches single items with inclusion proofs checked
against those headers (:mod:`node.edge.proofs`; ``EdgeService.proofs`` once running), takes
device uploads and submits them as the devices' records (:mod:`node.edge.device_ingest`,
:mod:`node.edge.submit`), relays requesters' fetches of bulk data to the nodes
(:mod:`node.edge.fetch_relay`, its nonces in the same store; the uploads under way are there
too, :mod:`node.edge.pending_uploads`, resumed at start) and serves :mod:`node.edge.http`
with the device and fetch routes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from prometheus_client import CollectorRegistry
from starlette.routing import BaseRoute

from crypto.groups import load_group
from crypto.signing import SigningKey
from ledger.genesis import Genesis
from ledger.header_chain import HeaderChain
from ledger.keyfiles import KeyFileError, load_secret
from ledger.leveldb import LevelDBStore
from ledger.transactions import PutRecord
from node.config import DATA_DIR, NODE_KEY_FILE, ConfigError, NodeConfig, listen_endpoint
from node.edge.client_limit import limit_settings
from node.edge.device_ingest import DeviceIngest
from node.edge.device_routes import device_routes
from node.edge.fetch_relay import relay_routes
from node.edge.follower import HeaderFollower
from node.edge.http import edge_app
from node.edge.proofs import ProofFetcher
from node.edge.sensor_routes import SensorMount
from node.edge.submit import EdgeSubmitter
from node.home import load_config_and_genesis
from node.http.server import HttpConfig, run_http
from node.p2p import P2PConfig, P2PHost, PeerAllowlist, parse_peer_id
from node.p2p.identity import peer_id_of
from node.peers import PeerDialer

logger = logging.getLogger("iomtshare.node.edge")

HEADERS_DIR = "headers"
#: One header request waits at most this long for its answer.
REQUEST_TIMEOUT_SECONDS = 10.0
_MAX_FRAME = 24 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class EdgeIdentity:
    """What an edge home says the edge is."""

    home: Path
    config: NodeConfig
    genesis: Genesis
    node_key: SigningKey
    peer_id: str


def load_edge_identity(home: Path) -> EdgeIdentity:
    """Read config, genesis and key of ``home``; raises :class:`ConfigError` if a file is
    missing or bad, or the home's key is not an edge of its genesis."""
    if not home.is_dir():
        raise ConfigError(f"{home} is not an edge home directory")
    config, genesis = load_config_and_genesis(home)
    try:
        node_key = SigningKey(load_secret(home / NODE_KEY_FILE))
    except KeyFileError as exc:
        raise ConfigError(str(exc)) from exc
    peer_id = str(peer_id_of(node_key.verify_key).to_base58())
    edge = genesis.edge(peer_id)
    if edge is None or edge.verify_key != node_key.verify_key.raw:
        raise ConfigError(f"the key of {home} ({peer_id}) is not an edge of this genesis")
    return EdgeIdentity(home, config, genesis, node_key, peer_id)


class EdgeService:
    """An edge: p2p host, dialer, header follower and HTTP API over one header store."""

    def __init__(self, identity: EdgeIdentity) -> None:
        """Raises ``ConfigError`` or :class:`~node.p2p.P2PError` for an unusable p2p setup."""
        self.identity = identity
        host, port = listen_endpoint(identity.config.p2p_listen)
        # An edge talks to consensus nodes only; other edges are not its peers.
        self._node_ids = [parse_peer_id(n.peer_id) for n in identity.genesis.nodes]
        allowlist = PeerAllowlist.of(self._node_ids)
        # Frames carry a device record's fragments to a node (node.edge.submit).
        config = P2PConfig(listen_host=host, listen_port=port, max_frame_bytes=_MAX_FRAME)
        self.host = P2PHost(identity.node_key, allowlist, config)
        self.follower: HeaderFollower | None = None
        #: Fetches verified transactions and decisions (``fetch_tx``, ``fetch_decision``).
        self.proofs: ProofFetcher | None = None
        #: Takes device uploads (``POST /devices/{id}/uploads``) once running.
        self.devices: DeviceIngest | None = None
        #: More routes for the edge's HTTP app (set before :meth:`run`).
        self.extra_routes: list[BaseRoute] = []
        self.http_urls: list[str] = []

    def connected_nodes(self) -> list[str]:
        live = self.host.connected_peers()
        return [str(peer.to_base58()) for peer in self._node_ids if peer in live]

    async def _request(self, peer: str, protocol: str, payload: bytes) -> bytes:
        return await self.host.request(
            parse_peer_id(peer), protocol, payload, REQUEST_TIMEOUT_SECONDS
        )

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Open the header store, start every service, report the HTTP URLs; run until
        cancelled. Raises ``ledger.errors.LedgerError``, :class:`~node.p2p.P2PError`,
        :class:`~node.http.HttpConfigError` or ``OSError`` when the edge cannot start."""
        identity = self.identity
        # Per-client limit on the routes that cost proofs (config.toml http_client_burst and
        # http_client_per_second); checked before anything is opened.
        client_limit = limit_settings(identity.config.extra)
        data = identity.home / DATA_DIR
        data.mkdir(parents=True, exist_ok=True)
        store = LevelDBStore(data / HEADERS_DIR)
        sensors = SensorMount(identity.home, data)
        try:
            chain = HeaderChain(store, identity.genesis)
            follower = HeaderFollower(chain, self._request, self.connected_nodes)
            self.follower = follower
            proofs = ProofFetcher(chain, self._request, self.connected_nodes)
            self.proofs = proofs
            registry = CollectorRegistry()
            group = load_group(identity.config.pairing_backend)
            ingest = DeviceIngest(
                identity.genesis,
                identity.peer_id,
                identity.node_key,
                group,
                proofs,
                EdgeSubmitter(self._request, self.connected_nodes),
                registry,
                store=store,
                resubmit_window_ms=identity.genesis.freshness_window_ms,
            )
            self.devices = ingest

            async def submit_sensor_record(put: PutRecord, fragments: list[bytes]) -> str:
                return (await ingest.submit_signed(put, fragments)).tx_id.hex()

            sensor_routes = sensors.routes(
                identity.genesis, identity.node_key, group, registry, submit_sensor_record, proofs
            )
            app = edge_app(
                chain,
                lambda: len(self.connected_nodes()),
                lambda: follower.refused,
                proofs,
                peer_id=identity.peer_id,
                registry=registry,
                client_limit=client_limit,
                routes=[
                    *device_routes(ingest),
                    *sensor_routes,
                    # Requesters' fetches, relayed to the nodes (FragmentGet over self.host).
                    *relay_routes(
                        identity.genesis, proofs, chain, self._request,
                        self.connected_nodes, store, registry,
                    ),
                    *self.extra_routes,
                ],
            )
            config = identity.config
            allow_public = bool(config.extra.get("http_allow_public", False))
            http = HttpConfig(config.http_host, config.http_port, allow_public)
            async with trio.open_nursery() as nursery:
                await nursery.start(self.host.run)
                self.http_urls = await nursery.start(run_http, app, http)
                await nursery.start(PeerDialer(self.host, config.peers).run)
                await nursery.start(follower.run)
                await nursery.start(ingest.run)
                # Uploads left open by a previous run: committed ones get their fragments.
                await nursery.start(ingest.finisher.run)
                logger.info(
                    "edge started height=%d peer=%s http=%s",
                    chain.height,
                    identity.peer_id,
                    self.http_urls,
                )
                task_status.started(self.http_urls)
        finally:
            sensors.close()
            store.close()
            logger.info("edge stopping peer=%s", identity.peer_id)
