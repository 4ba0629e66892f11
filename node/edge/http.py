"""The edge's HTTP API: its health and the headers it holds.

``GET /health`` and ``GET /status`` report the role, the tip and how many consensus nodes are
connected (the testnet launcher waits on ``peers_connected``); ``GET /headers/{height}`` returns
one verified header with its commit QC (fields and the canonical hex encodings).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledger.header_chain import CertifiedHeader, HeaderChain
from node.http.errors import error_body


def edge_app(
    chain: HeaderChain, connected: Callable[[], int], refused: Callable[[], dict[str, int]]
) -> Starlette:
    """The app over ``chain``; ``connected()`` counts connected consensus nodes and
    ``refused()`` gives the refused header batches by peer."""

    def state() -> dict[str, Any]:
        tip = chain.tip
        counts = refused()
        return {
            "role": "edge",
            "height": tip.height,
            "block_hash": tip.block_hash.hex(),
            "peers_connected": connected(),
            "headers_refused": sum(counts.values()),
            "headers_refused_by_peer": counts,
        }

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", **state()})

    async def status(request: Request) -> JSONResponse:
        return JSONResponse(state())

    async def header(request: Request) -> JSONResponse:
        text = request.path_params["height"]
        if not text.isdigit() or int(text) < 1:
            message = f"height must be a positive integer, not {text!r}"
            return JSONResponse(error_body("bad_request", message), status_code=400)
        certified = chain.get(int(text))
        if certified is None:
            message = f"no header at height {text} (tip is {chain.height})"
            return JSONResponse(error_body("not_found", message), status_code=404)
        return JSONResponse(header_json(certified))

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/status", status),
            Route("/headers/{height}", header),
        ]
    )


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
