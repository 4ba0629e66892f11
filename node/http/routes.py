"""The routes of docs/http-api.md that need the running node, over a :class:`NodeView`.

``/status``, ``POST /tx``, ``/metrics``, ``/net_info``, ``/genesis``, ``/tx/{id}?wait``,
``/tx/{id}/fate``, ``/requests/{id}?wait``, the fragment upload and the granted data fetch.
Each route parses and checks its input (:mod:`node.http.params`, :mod:`node.http.body`), asks
the view, and renders the answer; the read-only explorer routes are in :mod:`node.http.explorer`.

A submission this node accepted and then dropped without committing it is answered 410
``dropped`` (the reason in the message) by ``/tx/{id}`` and ``/requests/{id}``, so a client
waiting for it stops at once; ``/tx/{id}/fate`` tells pending, committed or dropped apart.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ledger.access_token import NONCE_SIZE, AccessToken
from ledger.blacklist import standing
from ledger.transactions import AccessRequest
from node.http.body import read_json_object
from node.http.errors import ApiError, BadRequest, Forbidden, NotFound
from node.http.explorer import audit_json, render
from node.http.params import hex_field, hex_param, int_field, query_seconds
from node.view import NodeView
from node.wire import FragmentGet

#: Longest ``?wait=S`` a client may ask for.
MAX_WAIT_SECONDS = 60.0


class Dropped(ApiError):
    """A submission this node accepted can no longer be committed (the message says why)."""

    status_code = 410
    code = "dropped"


def node_routes(view: NodeView, registry: CollectorRegistry) -> list[Route]:
    """The routes served from ``view``; ``/metrics`` renders ``registry``."""

    async def status(request: Request) -> Response:
        return JSONResponse(dataclasses.asdict(view.status()))

    async def submit(request: Request) -> Response:
        document = await read_json_object(request)
        tx_id = await view.submit_transaction(hex_field(document, "tx"))
        return JSONResponse({"tx_id": tx_id}, status_code=202)

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def net_info(request: Request) -> Response:
        return JSONResponse(dataclasses.asdict(view.net_info()))

    async def genesis(request: Request) -> Response:
        return JSONResponse(view.genesis.to_json())

    async def tx(request: Request) -> Response:
        tx_id = hex_param(request.path_params["tx_id"], "tx_id")
        deadline = trio.current_time() + query_seconds(request, "wait", MAX_WAIT_SECONDS)
        ledger = view.ledger
        while True:
            stored = ledger.transaction(tx_id)
            if stored is not None:
                break
            _raise_if_dropped(view, tx_id)
            if not await view.wait_commit(deadline):
                if view.submission_pending(tx_id):
                    raise NotFound("transaction is pending here, not committed yet")
                raise NotFound("transaction is not committed (yet)")
        block = ledger.block(stored.height)
        return JSONResponse(
            {
                "tx_id": tx_id.hex(),
                "status": "committed",
                "type": type(stored.transaction).__name__,
                "height": stored.height,
                "block_hash": block.block.hash().hex() if block is not None else None,
                "index": stored.position,
                "tx": render(stored.transaction),
                "raw": stored.transaction.to_bytes().hex(),
            }
        )

    async def fate(request: Request) -> Response:
        tx_id = hex_param(request.path_params["tx_id"], "tx_id")
        answer: dict[str, Any] = {"tx_id": tx_id.hex(), "height": None, "reason": None}
        stored = view.ledger.transaction(tx_id)
        reason = view.dropped_reason(tx_id)
        if stored is not None:
            answer.update(status="committed", height=stored.height)
        elif view.submission_pending(tx_id):
            answer.update(status="pending")
        elif reason is not None:
            answer.update(status="dropped", reason=reason)
        else:
            raise NotFound("transaction is neither committed, pending nor dropped here")
        return JSONResponse(answer)

    async def request_status(request: Request) -> Response:
        request_id = hex_param(request.path_params["request_id"], "request_id")
        deadline = trio.current_time() + query_seconds(request, "wait", MAX_WAIT_SECONDS)
        while True:
            answer = decision_json(view, request_id)
            if answer is not None:
                return JSONResponse(answer)
            _raise_if_dropped(view, request_id)
            if not await view.wait_commit(deadline):
                break
        if not view.submission_pending(request_id):
            raise NotFound("request is neither committed nor pending here")
        return JSONResponse({"request_id": request_id.hex(), "status": "pending", "height": None})

    async def put_fragments(request: Request) -> Response:
        record_id = hex_param(request.path_params["record_id"], "record_id")
        document = await read_json_object(request)
        items = document.get("fragments")
        size = view.genesis.size
        if not isinstance(items, list) or len(items) != size:
            raise BadRequest(f"fragments must be a list of {size} hex strings")
        fragments = [hex_field({"f": item}, "f") for item in items]
        stored = await view.store_fragments(record_id, fragments)
        return JSONResponse({"stored": stored}, status_code=202)

    async def fetch_data(request: Request) -> Response:
        record_id = hex_param(request.path_params["record_id"], "record_id")
        token = access_token_from_body(record_id, await read_json_object(request))
        outcome = await view.fetch(FragmentGet(token))
        return JSONResponse(
            {"ciphertext": outcome.data.hex(), "corrupt_fragments": list(outcome.corrupt)}
        )

    return [
        Route("/status", status, methods=["GET"]),
        Route("/tx", submit, methods=["POST"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/net_info", net_info, methods=["GET"]),
        Route("/genesis", genesis, methods=["GET"]),
        Route("/tx/{tx_id}", tx, methods=["GET"]),
        Route("/tx/{tx_id}/fate", fate, methods=["GET"]),
        Route("/requests/{request_id}", request_status, methods=["GET"]),
        Route("/records/{record_id}/fragments", put_fragments, methods=["POST"]),
        Route("/records/{record_id}/data", fetch_data, methods=["POST"]),
    ]


def access_token_from_body(record_id: bytes, document: dict[str, Any]) -> AccessToken:
    """The access token of a ``POST /records/{record_id}/data`` body (also an edge's relay
    body); raises :class:`BadRequest`, or :class:`Forbidden` (``no_token``) without a token."""
    requester = hex_field(document, "requester", 32)
    timestamp_ms = int_field(document, "timestamp_ms")  # u64 on the wire
    nonce = hex_field(document, "nonce", NONCE_SIZE)
    signature = hex_field(document, "signature", 64)
    if "decision_id" not in document:
        raise Forbidden(
            "the fetch carries no access token (decision_id, expires_at_ms): "
            "sign one for the granted decision",
            "no_token",
        )
    binding = document.get("abe_binding")
    return AccessToken(
        record_id=record_id,
        requester=requester,
        decision_id=hex_field(document, "decision_id", 32),
        expires_at_ms=int_field(document, "expires_at_ms"),
        abe_binding=None if binding is None else hex_field(document, "abe_binding", 32),
        timestamp_ms=timestamp_ms,
        nonce=nonce,
        signature=signature,
    )


def _raise_if_dropped(view: NodeView, tx_id: bytes) -> None:
    reason = view.dropped_reason(tx_id)
    if reason is not None and not view.submission_pending(tx_id):
        raise Dropped(f"this node dropped the transaction without committing it: {reason}")


def decision_json(view: NodeView, request_id: bytes) -> dict[str, Any] | None:
    """The committed decision on an access request, or None while it is not committed."""
    ledger = view.ledger
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
        reason = view.denial_reason(request_id)
        answer["reason"] = reason if reason is not None else "denied by a quorum of nodes"
    # The requester's standing now, so it hears of the blacklist before it happens.
    answer["standing"] = standing(ledger, ledger.genesis, result.requester).to_json()
    return answer
