"""The node process: small services over one home directory, started from one nursery.

This module only wires. :func:`assemble` builds a node's parts over its open stores, and
:class:`NodeService` starts them with the network around them:

==========================  ===================================================================
service (``run``)           what it does
==========================  ===================================================================
``P2PHost``                 libp2p: genesis-gated connections, streams, requests, gossip
``HttpApi``                 the HTTP API (:mod:`node.http`) over the :class:`~node.view.NodeView`
``PeerDialer``              keeps a connection to every configured peer
``PeerLinks``               one ordered, batched stream of consensus frames to each peer
``GossipFallback``          a client's item still pending after 3 s also goes on gossip
``FragmentService``         the storage protocols, uploads handed out, granted fetches
edge protocols              headers, proofs and device submissions for genesis edges
``ConsensusLoop``           the one task that owns the consensus machine
==========================  ===================================================================

Two clocks, kept apart: consensus runs on trio's clock (``trio.current_time()``), which it uses
only to set and compare its own deadlines, so a test can run the node on
``trio.testing.MockClock``; block times and request freshness are wall-clock milliseconds
(``node.home.wall_ms``), read by the application, because they go into the ledger.

Start it with ``await nursery.start(service.run)``; cancelling the nursery stops everything
(the ledger and local store are closed on the way out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from libp2p.peer.id import ID

from consensus import ConsensusConfig, ConsensusNode, Ed25519Signer, Ed25519Verifier
from consensus.item import Item
from crypto.groups import Group, load_group
from ledger.genesis import Genesis
from ledger.ledger import Ledger
from ledger.qc import access_vote_payload, commit_vote_payload
from node.application import NodeApplication
from node.byzantine import Byzantine, Mode, modes_from_env
from node.config import DATA_DIR
from node.consensus_loop import CONSENSUS_PROTOCOL, ConsensusLoop
from node.edge.proofs import PROOFS_PROTOCOL, proof_gate, proof_server
from node.edge.protocol import HEADERS_PROTOCOL, HeaderRequestGate, header_server
from node.edge.submit import (
    EDGE_SUBMIT_PROTOCOL,
    MAX_SUBMIT_BYTES,
    submit_gate,
    submit_server,
)
from node.fragment_service import FragmentService
from node.gossip_fallback import GossipFallback, Publish
from node.home import NodeIdentity, listen_endpoint, timeouts_of, wall_ms
from node.http import HttpApi, HttpConfig
from node.live_view import LiveView
from node.localstore import LocalStore
from node.p2p import (
    FrameReader,
    GossipSettings,
    P2PConfig,
    P2PHost,
    PeerAllowlist,
    parse_peer_id,
)
from node.p2p.quiet_log import QuietLog
from node.peer_links import OpenStream, PeerLinks
from node.peers import PeerDialer, Peers
from node.storage import FragmentKeeper
from node.sync import CatchUp, vouchers_needed

logger = logging.getLogger("iomtshare.node.service")

# Frames carry whole storage fragments: a 64 MiB HTTP upload of hex holds 32 MiB of fragments,
# so one fragment stays well under this bound for any n >= 2.
_MAX_FRAME = 24 * 1024 * 1024
# Header and proof requests are a few integers or one id: bigger ones are refused unread.
_MAX_QUERY = 256
# A proposal carries its whole block: up to 32 items of at most 128 KiB, plus votes and shares.
_MAX_GOSSIP = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class NodeParts:
    """A node's parts over its open stores; none of them runs yet."""

    app: NodeApplication
    links: PeerLinks
    consensus: ConsensusLoop
    gossip: GossipFallback
    storage: FragmentService
    view: LiveView

    def register(self, host: P2PHost, peers: Peers) -> None:
        """Serve the node's libp2p protocols and topics on ``host`` (before it runs)."""

        # Edges are admitted as peers but speak only the header protocol: consensus traffic
        # (link streams and gossip) from a peer that is not a genesis node is dropped.
        # The host already rejects gossip not published by validators (see NodeService).
        quiet = QuietLog(logger)

        async def serve_link(peer: ID, reader: FrameReader) -> None:
            index = peers.index_of(peer)
            if index is None:
                quiet.warning(peer, "consensus link refused peer=%s reason=not-a-validator", peer)
                return
            await self.consensus.serve_link(index, str(peer), reader)

        def from_validators(data: bytes, origin: int | None, source: str) -> None:
            if origin is None:
                quiet.warning(source, "gossip dropped origin=%s reason=not-a-validator", source)
                return
            self.consensus.take_message(data, origin, source)

        host.add_stream_protocol(CONSENSUS_PROTOCOL, serve_link)
        self.gossip.subscribe(host, peers, from_validators)
        self.storage.register(host)

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run the links, the gossip fallback, the storage and the consensus task until
        cancelled (the host, the dialer and the HTTP API are the caller's)."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.links.run)
            await nursery.start(self.gossip.run)
            await nursery.start(self.storage.run)
            await nursery.start(self.consensus.run)
            task_status.started()


def assemble(
    identity: NodeIdentity,
    ledger: Ledger,
    local: LocalStore,
    group: Group,
    peers: Peers,
    catch_up: CatchUp,
    *,
    open_link: OpenStream,
    publish: Publish,
    clock_ms: Callable[[], int] = wall_ms,
    byzantine: frozenset[Mode] = frozenset(),
) -> NodeParts:
    """The parts of node ``identity`` over ``ledger`` and ``local``; consensus frames go out on
    streams from ``open_link``, gossip through ``publish``; ``clock_ms`` is the wall clock;
    ``byzantine`` names the ways it misbehaves (test only: :mod:`node.byzantine`)."""
    genesis, index = identity.genesis, identity.index
    app = NodeApplication(
        ledger, local, group, index, identity.box_key, clock_ms, identity.domain_share,
        identity.home,
    )
    machine = ConsensusNode.create(
        ConsensusConfig(genesis.chain_id, genesis.size, genesis.quorum, timeouts_of(genesis)),
        index,
        Ed25519Signer(identity.node_key),
        Ed25519Verifier([n.signer() for n in genesis.nodes]),
        app,
        commit_vote_payload,
        access_vote_payload,
    )
    links = PeerLinks(peers.others(), open_link)

    def still_pending(item: Item) -> bool:
        return consensus.still_pending(item)

    gossip = GossipFallback(publish, still_pending)
    liar = Byzantine(byzantine, identity.node_key, genesis.chain_id, group) if byzantine else None
    consensus = ConsensusLoop(
        machine, app, links, catch_up, on_client_item=gossip.watch, byzantine=liar
    )
    keeper = FragmentKeeper(ledger, local, index, clock_ms)
    storage = FragmentService(keeper, genesis, peers, consensus.wait_commit)
    view = LiveView(app, consensus, storage, peers, links, catch_up, identity.shedding)
    return NodeParts(app, links, consensus, gossip, storage, view)


@contextmanager
def open_stores(data: Path, genesis: Genesis) -> Iterator[tuple[Ledger, LocalStore]]:
    """The ledger and the node-local store under ``data``, closed on the way out."""
    data.mkdir(parents=True, exist_ok=True)
    ledger = Ledger.open(data / "ledger", genesis)
    try:
        local = LocalStore.open(data / "node")
        try:
            yield ledger, local
        finally:
            local.close()
    finally:
        ledger.close()


class NodeService:
    """A node: see the module docstring. ``parts`` is set while it runs."""

    def __init__(self, identity: NodeIdentity) -> None:
        """Raises ``ConfigError`` or :class:`~node.p2p.P2PError` for an unusable p2p setup."""
        self.identity = identity
        self.byzantine = modes_from_env()  # test only; empty unless its variable is set
        genesis = identity.genesis
        # f + 1 validators must vouch for a height before this node believes it lags behind.
        self.catch_up = CatchUp(identity.index, vouchers_needed(genesis.size, genesis.quorum))
        host, port = listen_endpoint(identity.config.p2p_listen)
        validators = [parse_peer_id(n.peer_id) for n in genesis.nodes if n.index != identity.index]
        # Edges listed in genesis are admitted too (light nodes: they never vote, may not
        # publish gossip, and get a small share of the inbound request slots).
        edges = [parse_peer_id(edge.peer_id) for edge in genesis.edges]
        allowlist = PeerAllowlist.of(validators + edges)
        config = P2PConfig(
            listen_host=host,
            listen_port=port,
            max_frame_bytes=_MAX_FRAME,
            gossip=GossipSettings(max_message_bytes=_MAX_GOSSIP),
        )
        self.host = P2PHost(identity.node_key, allowlist, config, validators=validators)
        self.peers = Peers(self.host, genesis, identity.index)
        self.parts: NodeParts | None = None
        self.http_urls: list[str] = []

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Open the stores, start every service; report the HTTP URLs; run until cancelled.
        Raises ``ledger.errors.LedgerError``, :class:`~node.p2p.P2PError`,
        :class:`~node.http.HttpConfigError` or ``OSError`` when the node cannot start."""
        identity = self.identity
        group = load_group(identity.config.pairing_backend)
        # The fixed-base tables cost ~40 ms on first use; pay it now, not on the first request.
        group.warm_up()
        with open_stores(identity.home / DATA_DIR, identity.genesis) as (ledger, local):
            try:
                await self._run(ledger, local, group, task_status)
            finally:
                logger.info("node stopping index=%d", identity.index)

    async def _run(self, ledger: Ledger, local: LocalStore, group: Group, task_status: Any) -> None:
        identity, host = self.identity, self.host
        parts = assemble(
            identity,
            ledger,
            local,
            group,
            self.peers,
            self.catch_up,
            open_link=lambda index: self.peers.open_stream(index, CONSENSUS_PROTOCOL),
            publish=host.publish,
            byzantine=self.byzantine,
        )
        parts.register(host, self.peers)
        http = HttpApi(parts.view, http_config(identity))
        # What edges follow, ask for with proofs, and submit for their devices.
        gate = HeaderRequestGate(registry=http.registry)
        forge = Mode.FORGE_HEADERS in self.byzantine
        headers = header_server(ledger, gate, forge=forge)
        host.add_protocol(HEADERS_PROTOCOL, headers, _MAX_QUERY)
        proofs = proof_server(ledger, proof_gate(http.registry))
        host.add_protocol(PROOFS_PROTOCOL, proofs, _MAX_QUERY)
        submit = submit_server(identity.genesis, parts.view, submit_gate(http.registry))
        parts.storage.count_edge_refusals(http.registry)
        host.add_protocol(EDGE_SUBMIT_PROTOCOL, submit, MAX_SUBMIT_BYTES)
        self.parts = parts
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            self.http_urls = await nursery.start(http.run)
            await nursery.start(PeerDialer(host, identity.config.peers).run)
            await nursery.start(parts.run)
            logger.info(
                "node started index=%d height=%d peer=%s http=%s",
                identity.index,
                ledger.height,
                host.peer_id,
                self.http_urls,
            )
            task_status.started(self.http_urls)


def http_config(identity: NodeIdentity) -> HttpConfig:
    """Where the node's API listens, from its config."""
    config = identity.config
    allow_public = bool(config.extra.get("http_allow_public", False))
    return HttpConfig(host=config.http_host, port=config.http_port, allow_public=allow_public)
