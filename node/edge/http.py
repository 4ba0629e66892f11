"""The edge's HTTP API: its health, the headers it holds, and items fetched with proofs.

``GET /health`` and ``GET /status`` report the role, the edge's peer id, the tip and how many
consensus nodes are connected (the testnet launcher waits on ``peers_connected``);
``GET /metrics`` is the edge's Prometheus registry (device uploads accepted and refused);
``GET /headers/{height}`` returns one verified header with its commit QC (fields and the
canonical hex encodings).

``GET /tx/{tx_id}`` and ``GET /decisions/{request_id}`` fetch one committed transaction, or the
decision on one access request, from a consensus node with an inclusion proof
(:mod:`node.edge.proofs`) and answer only what verified against the edge's own header, with
``"verified": {"height", "block_hash"}``. Errors: 400 ``bad_request`` (not 32 bytes of hex),
404 ``not_found``, 502 ``proof_invalid`` (answers came, none verified), 503 ``header_behind`` or
``unavailable``. These two and the routes that fetch proofs for a client's request (the
fetch relay, device uploads) are limited per client address (:mod:`node.edge.client_limit`):
429 ``rate_limited`` with ``Retry-After``.

More routes are mounted through :func:`edge_app`'s ``routes`` (the device routes of
:mod:`node.edge.device_routes`; ``EdgeService.extra_routes`` for others).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ledger.header_chain import CertifiedHeader, HeaderChain
from node.edge.client_limit import CLIENT_BURST, CLIENT_PER_SECOND, ClientLimit
from node.edge.proofs import ProofError, ProofFetcher, Verified, VerifiedDecision, VerifiedTx
from node.http.errors import BadRequest, error_body
from node.http.explorer import render
from node.http.params import U64_MAX, hex_param, parse_int

T = TypeVar("T")


def edge_app(
    chain: HeaderChain,
    connected: Callable[[], int],
    refused: Callable[[], dict[str, int]],
    proofs: ProofFetcher,
    *,
    peer_id: str = "",
    registry: CollectorRegistry | None = None,
    routes: Sequence[BaseRoute] = (),
    client_limit: tuple[int, float] = (CLIENT_BURST, CLIENT_PER_SECOND),
) -> Starlette:
    """The app over ``chain``; ``connected()`` counts connected consensus nodes and
    ``refused()`` gives the refused header batches by peer; ``proofs`` fetches items.
    ``peer_id`` is shown in ``/status``, ``GET /metrics`` renders ``registry`` (an empty one
    if None), and ``routes`` are mounted beside the edge's own (e.g. the device routes)."""
    metrics_registry = CollectorRegistry() if registry is None else registry

    def state() -> dict[str, Any]:
        tip = chain.tip
        counts = refused()
        return {
            "role": "edge",
            "peer_id": peer_id,
            "height": tip.height,
            "block_hash": tip.block_hash.hex(),
            "peers_connected": connected(),
            "headers_refused": sum(counts.values()),
            "headers_refused_by_peer": counts,
            "proofs_refused": sum(proofs.refused.values()),
            "proofs_refused_by_peer": dict(proofs.refused),
        }

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", **state()})

    async def status(request: Request) -> JSONResponse:
        return JSONResponse(state())

    async def header(request: Request) -> JSONResponse:
        try:  # ASCII digits only, 1 .. 2**64 - 1: never int() of a huge or non-ASCII number
            height = parse_int(request.path_params["height"], "height", 1, U64_MAX)
        except BadRequest as exc:
            return _error(exc)
        certified = chain.get(height)
        if certified is None:
            message = f"no header at height {height} (tip is {chain.height})"
            return JSONResponse(error_body("not_found", message), status_code=404)
        return JSONResponse(header_json(certified))

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            *routes,
            Route("/metrics", metrics),
            Route("/health", health),
            Route("/status", status),
            Route("/headers/{height}", header),
            Route("/tx/{tx_id}", _proven("tx_id", quick(proofs.fetch_tx), tx_json)),
            Route(
                "/decisions/{request_id}",
                _proven("request_id", quick(proofs.fetch_decision), decision_json),
            ),
        ],
        middleware=[
            Middleware(
                ClientLimit,
                burst=client_limit[0],
                per_second=client_limit[1],
                registry=metrics_registry,
            )
        ],
    )


def quick(fetch: Callable[..., Awaitable[T]]) -> Callable[[bytes], Awaitable[T]]:
    """``fetch`` for a client's id, which may well not exist: a not-found is answered after
    two nodes and remembered briefly (``quick`` of :meth:`ProofFetcher.fetch_tx`)."""

    async def fetch_quick(item_id: bytes) -> T:
        return await fetch(item_id, quick=True)

    return fetch_quick


def _proven(
    name: str,
    fetch: Callable[[bytes], Awaitable[T]],
    to_json: Callable[[T], dict[str, Any]],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A route answering the verified item whose id is path parameter ``name``."""

    async def route(request: Request) -> JSONResponse:
        try:
            item_id = hex_param(request.path_params[name], name)
            return JSONResponse(to_json(await fetch(item_id)))
        except (BadRequest, ProofError) as exc:
            return _error(exc)

    return route


def _error(exc: BadRequest | ProofError) -> JSONResponse:
    if isinstance(exc, BadRequest):
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)
    return JSONResponse(error_body(exc.code, str(exc)), status_code=exc.http_status)


def _verified(where: Verified) -> dict[str, Any]:
    # The header commits to the block's items, not to the leaf index and count in the proof:
    # the index is the node's claim, named so (docs/edge-proofs.md).
    return {"height": where.height, "block_hash": where.block_hash.hex(),
            "index_claimed": where.index}


def tx_json(item: VerifiedTx) -> dict[str, Any]:
    """A verified transaction: its fields, its canonical hex and where it was committed."""
    transaction = item.transaction
    return {
        "tx_id": item.tx_id.hex(),
        "type": type(transaction).__name__,
        "tx": render(transaction),
        "raw": transaction.to_bytes().hex(),
        "verified": _verified(item.verified),
    }


def decision_json(item: VerifiedDecision) -> dict[str, Any]:
    """A verified decision: granted or denied, who voted how, the re-encrypted ciphertext of a
    grant, the result's canonical hex and where it was committed."""
    result = item.result
    answer: dict[str, Any] = {
        "request_id": result.request_id.hex(),
        "status": "granted" if result.granted else "denied",
        "record_id": result.record_id.hex(),
        "requester": result.requester.hex(),
        "votes": [{"node_index": v.node_index, "approve": v.approve} for v in result.votes],
        "raw": result.to_bytes().hex(),
        "verified": _verified(item.verified),
    }
    if result.granted:
        answer["reencrypted_ciphertext"] = result.combined_ciphertext.hex()
    return answer


def header_json(certified: CertifiedHeader) -> dict[str, Any]:
    header, qc = certified.header, certified.commit_qc
    return {
        "height": header.height,
        "block_hash": header.hash().hex(),
        "prev_hash": header.prev_hash.hex(),
        "state_root": header.state_root.hex(),
        "time_ms": header.time_ms,
        "proposer": header.proposer,
        "commit_qc": {"round": qc.round, "signers": [s.node_index for s in qc.signatures]},
        "header_hex": header.to_bytes().hex(),
        "commit_qc_hex": qc.to_bytes().hex(),
    }
