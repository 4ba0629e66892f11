"""The node's HTTP API (docs/http-api.md): status, submissions, waits and bulk storage.

Read-only explorer routes live in :mod:`node.explorer`; this module adds what needs the running
service: ``/status``, ``/net_info``, ``/genesis``, ``POST /tx``, ``/tx/{id}?wait``,
``/requests/{id}?wait``, the fragment upload and the granted data fetch, and node metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import trio
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consensus.encoding import ItemKind
from consensus.messages import Submission
from crypto.errors import DecodeError
from ledger.fetch import NONCE_SIZE
from ledger.transactions import AccessRequest, decode_transaction, tx_id_of
from node.explorer import audit_json, explorer_routes, render
from node.http import ApiMetrics, HttpConfig, build_app, run_http
from node.http.body import read_json_object
from node.http.errors import BadRequest, Conflict, InvalidInput, NotFound, Syncing, Unavailable
from node.http.errors import error_for_status as api_error
from node.http.params import hex_field, hex_param, int_field, query_seconds
from node.inbox import InboxFull
from node.p2p import P2PError
from node.storage import PUT_PROTOCOL, StorageRefused
from node.wire import FragmentGet, FragmentPut

if TYPE_CHECKING:
    from node.service import NodeService

logger = logging.getLogger("iomtshare.node.api")

MAX_WAIT_SECONDS = 60.0
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Bound on one node-to-node storage request made while an HTTP client waits.
PEER_TIMEOUT_SECONDS = 4.0


class NodeFacade:
    """:class:`node.http.NodeApi` over a running :class:`NodeService`."""

    def __init__(self, node: NodeService) -> None:
        self.node = node

    def status(self) -> Mapping[str, Any]:
        ledger, _, machine = self.node.require()
        head = ledger.head()
        connected = self.node.connected_indexes()
        return {
            "chain_id": self.node.genesis.chain_id,
            "genesis_hash": self.node.genesis.hash().hex(),
            "node_index": self.node.index,
            "peer_id": str(self.node.host.peer_id),
            "height": head.height,
            "head_hash": head.block_hash.hex(),
            "head_time_ms": head.time_ms,
            "peers_connected": len(connected),
            "peers": [str(self.node.peer_id_of(i)) for i in connected],
            "round": machine.round,
            "pending": len(machine.pool),
            "syncing": self.node.catch_up.syncing(head.height),
        }

    async def submit_transaction(self, raw: bytes) -> str:
        ledger, app, machine = self.node.require()
        try:
            tx = decode_transaction(raw)
        except DecodeError as exc:
            raise InvalidInput(f"not a transaction: {exc}", "malformed") from exc
        kind = ItemKind.REQUEST if isinstance(tx, AccessRequest) else ItemKind.TX
        submission = Submission(kind, raw)
        if submission.item_id in machine.pool or self.node.recently_submitted(submission):
            raise Conflict("transaction is already pending", "duplicate")
        problem = app.transaction_problem(raw)
        if problem is not None:
            if problem.state_dependent and self.node.catch_up.syncing(ledger.height):
                raise Syncing(f"node is catching up with the chain; retry ({problem.message})")
            raise api_error(problem.status, problem.code, problem.message)
        if isinstance(tx, AccessRequest):
            # Held from now on, not only once consensus has taken the request in: a second
            # request with the same nonce right behind this one is a replay too.
            app.admission.hold_nonce(tx, submission.item_id)
        try:
            await self.node.submit(submission)
        except InboxFull as exc:
            raise Unavailable(str(exc)) from exc
        return tx_id_of(raw).hex()


class NodeCollector(Collector):
    """Consensus and chain gauges, read at scrape time."""

    def __init__(self, node: NodeService) -> None:
        self.node = node

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.node.ledger is None or self.node.machine is None:
            return
        values = {
            "iomtshare_height": ("Height of the last committed block.", self.node.ledger.height),
            "iomtshare_round": ("Consensus round at the current height.", self.node.machine.round),
            "iomtshare_pending_items": ("Items waiting for a block.", len(self.node.machine.pool)),
            "iomtshare_peers_connected": (
                "Genesis peers with a live connection.",
                len(self.node.connected_indexes()),
            ),
            "iomtshare_audit_length": (
                "Records in the sharing-audit chain.",
                self.node.ledger.head().audit_length,
            ),
            "iomtshare_inbox_items": (
                "Inputs waiting for the consensus task.",
                self.node.inbox_size(),
            ),
            "iomtshare_evidence": (
                "Misbehaviour evidence gathered since start.",
                self.node.evidence_seen,
            ),
        }
        for name, (text, value) in values.items():
            yield GaugeMetricFamily(name, text, value=value)
        links = self.node.links
        queued = GaugeMetricFamily(
            "iomtshare_link_queued_frames", "Consensus frames waiting for a peer.", labels=["peer"]
        )
        dropped = GaugeMetricFamily(
            "iomtshare_link_dropped_frames",
            "Consensus frames dropped for a peer whose queue was full, since start.",
            labels=["peer"],
        )
        for peer in links.peers:
            queued.add_metric([str(peer)], links.queued(peer))
            dropped.add_metric([str(peer)], links.dropped(peer))
        yield queued
        yield dropped


def service_routes(node: NodeService) -> list[Route]:
    """The routes that need the running service (beyond ``/status`` and ``POST /tx``)."""

    async def net_info(request: Request) -> Response:
        connected = set(node.connected_indexes())
        peers = [
            {
                "peer_id": str(node.peer_id_of(n.index)),
                "index": n.index,
                "connected": n.index in connected,
            }
            for n in node.genesis.nodes
            if n.index != node.index
        ]
        return JSONResponse({"listen": node.listen, "peers": peers})

    async def genesis(request: Request) -> Response:
        return JSONResponse(node.genesis.to_json())

    async def tx(request: Request) -> Response:
        tx_id = hex_param(request.path_params["tx_id"], "tx_id")
        deadline = trio.current_time() + query_seconds(request, "wait", MAX_WAIT_SECONDS)
        ledger = node.require()[0]
        while True:
            stored = ledger.transaction(tx_id)
            if stored is not None:
                break
            if not await node.wait_commit(deadline):
                raise NotFound("transaction is not committed (yet)")
        block = ledger.block(stored.height)
        return JSONResponse(
            {
                "tx_id": tx_id.hex(),
                "type": type(stored.transaction).__name__,
                "height": stored.height,
                "block_hash": block.block.hash().hex() if block is not None else None,
                "index": stored.position,
                "tx": render(stored.transaction),
                "raw": stored.transaction.to_bytes().hex(),
            }
        )

    async def request_status(request: Request) -> Response:
        request_id = hex_param(request.path_params["request_id"], "request_id")
        deadline = trio.current_time() + query_seconds(request, "wait", MAX_WAIT_SECONDS)
        while True:
            answer = decided(node, request_id)
            if answer is not None:
                return JSONResponse(answer)
            if not await node.wait_commit(deadline):
                break
        item = node.request_items.get(request_id)
        if item is None or not node.is_pending(item):
            raise NotFound("request is neither committed nor pending here")
        return JSONResponse({"request_id": request_id.hex(), "status": "pending", "height": None})

    async def put_fragments(request: Request) -> Response:
        record_id = hex_param(request.path_params["record_id"], "record_id")
        document = await read_json_object(request)
        items = document.get("fragments")
        if not isinstance(items, list) or len(items) != node.genesis.size:
            raise BadRequest(f"fragments must be a list of {node.genesis.size} hex strings")
        fragments = [hex_field({"f": item}, "f") for item in items]
        stored = await store_fragments(node, record_id, fragments)
        return JSONResponse({"stored": stored}, status_code=202)

    async def fetch_data(request: Request) -> Response:
        record_id = hex_param(request.path_params["record_id"], "record_id")
        document = await read_json_object(request)
        fetch = FragmentGet(
            record_id=record_id,
            requester=hex_field(document, "requester", 32),
            timestamp_ms=int_field(document, "timestamp_ms"),  # u64 on the wire
            nonce=hex_field(document, "nonce", NONCE_SIZE),
            signature=hex_field(document, "signature", 64),
        )
        keeper = node.keeper
        if keeper is None:
            raise Unavailable("node is starting")
        peers = [i for i in node.connected_indexes() if i != node.index]

        async def fetch_from(index: int, protocol: str, payload: bytes) -> bytes:
            return await node.request_peer(index, protocol, payload, PEER_TIMEOUT_SECONDS)

        try:
            outcome = await node.retry_behind(lambda: keeper.fetch(fetch, peers, fetch_from))
        except StorageRefused as exc:
            raise api_error(exc.status, exc.code, exc.message) from exc
        return JSONResponse(
            {"ciphertext": outcome.data.hex(), "corrupt_fragments": list(outcome.corrupt)}
        )

    return [
        Route("/net_info", net_info, methods=["GET"]),
        Route("/genesis", genesis, methods=["GET"]),
        Route("/tx/{tx_id}", tx, methods=["GET"]),
        Route("/requests/{request_id}", request_status, methods=["GET"]),
        Route("/records/{record_id}/fragments", put_fragments, methods=["POST"]),
        Route("/records/{record_id}/data", fetch_data, methods=["POST"]),
    ]


def decided(node: NodeService, request_id: bytes) -> dict[str, Any] | None:
    """The committed decision on an access request, or None while it is not committed."""
    ledger, app, _ = node.require()
    stored = ledger.transaction(request_id)
    if stored is None or not isinstance(stored.transaction, AccessRequest):
        return None
    block = ledger.block(stored.height)
    if block is None:
        return None
    result = next((r for r in block.block.results if r.request_id == request_id), None)
    if result is None:
        return None
    audit = next(
        (
            a
            for a in ledger.audit_by_heights(stored.height, stored.height + 1)
            if a.request_id == request_id
        ),
        None,
    )
    answer: dict[str, Any] = {
        "request_id": request_id.hex(),
        "status": "granted" if result.granted else "denied",
        "height": stored.height,
        "record_id": result.record_id.hex(),
        "requester": result.requester.hex(),
        "audit_seq": audit.seq if audit is not None else None,
        "audit": audit_json(audit) if audit is not None else None,
    }
    if result.granted:
        answer["reencrypted_ciphertext"] = result.combined_ciphertext.hex()
    else:
        answer["reason"] = app.denial_reasons.get(request_id, "denied by a quorum of nodes")
    return answer


async def store_fragments(node: NodeService, record_id: bytes, fragments: list[bytes]) -> int:
    """Check the fragments against the record committed here, keep fragment ``i`` and hand
    fragment ``j`` to node ``j``; returns how many nodes took theirs. Raises an :class:`ApiError`:
    404 when the record is not committed here (503 syncing while catching up), 400 for a fragment
    that does not match it, 503 when fewer than the threshold of nodes took theirs.
    """
    keeper = node.keeper
    if keeper is None:
        raise Unavailable("node is starting")
    try:
        keeper.store_upload(record_id, fragments)
    except StorageRefused as exc:
        if exc.status == 404 and node.catch_up.syncing(node.require()[0].height):
            raise Syncing("record not committed here yet: this node is catching up") from exc
        raise api_error(exc.status, exc.code, exc.message) from exc
    stored = 1

    async def hand(index: int) -> None:
        nonlocal stored
        put = FragmentPut(record_id, fragments[index - 1])
        try:
            await node.request_peer(index, PUT_PROTOCOL, put.to_bytes(), PEER_TIMEOUT_SECONDS)
        except P2PError as exc:
            logger.warning("fragment not handed over node=%d reason=%s", index, exc)
            return
        stored += 1

    connected = set(node.connected_indexes())
    async with trio.open_nursery() as nursery:
        for index in range(1, node.genesis.size + 1):
            if index == node.index:
                continue
            if index in connected:
                nursery.start_soon(hand, index)
            else:
                logger.warning("fragment not handed over node=%d reason=not connected", index)
    if stored < node.genesis.threshold:
        raise Unavailable(
            f"only {stored} nodes took their fragment; {node.genesis.threshold} needed"
        )
    return stored


async def serve_api(node: NodeService, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the API on the configured loopback address until cancelled."""
    config = node.identity.config
    registry = CollectorRegistry()
    registry.register(NodeCollector(node))
    app = build_app(
        NodeFacade(node),
        ApiMetrics(registry),
        max_body_bytes=MAX_BODY_BYTES,
        routes=[*service_routes(node), *explorer_routes(node)],
    )
    allow_public = bool(config.extra.get("http_allow_public", False))
    http = HttpConfig(host=config.http_host, port=config.http_port, allow_public=allow_public)
    await run_http(app, http, task_status=task_status)
