"""The API's own front door: ``GET /`` lists every endpoint, ``GET /health`` answers load
balancers, and ``GET|PUT /log_level`` reads or changes the process's log level.

``/`` is built from the app's routes, so it cannot miss one; :data:`DESCRIPTIONS` says what
each does (a test checks that every route has a line here).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from node import logs
from node.buildinfo import package_version
from node.http.body import read_json_object
from node.http.errors import BadRequest, Forbidden, Unavailable
from node.view import NodeView

#: One line per ``(method, path)``, in the words of docs/http-api.md.
DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("GET", "/"): "this list of endpoints",
    ("GET", "/health"): "200 when the node can serve (caught up, a quorum of peers), else 503",
    ("GET", "/log_level"): "the node process's log level",
    ("PUT", "/log_level"): 'change the log level now: {"level": "debug"} (loopback clients only)',
    ("GET", "/explorer"): "the web explorer (HTML)",
    ("GET", "/explorer/static/{name}"): "the web explorer's script, style and icon",
    ("GET", "/status"): "chain, height, head, round, peers, syncing",
    ("GET", "/net_info"): "listen addresses and the genesis peers",
    ("GET", "/genesis"): "the genesis document",
    ("GET", "/metrics"): "Prometheus metrics",
    ("POST", "/tx"): "submit a signed transaction",
    ("GET", "/tx/{tx_id}"): "a committed transaction (?wait=S waits for its commit)",
    ("GET", "/tx/{tx_id}/fate"): "whether a submitted transaction is pending, committed or dropped",
    ("GET", "/requests/{request_id}"): "an access request's decision (?wait=S)",
    ("GET", "/blocks"): "block summaries (?from=H&to=H&limit=N&order=asc|desc)",
    ("GET", "/blocks/{height}"): "a block by height",
    ("GET", "/blocks/by-hash/{hash}"): "a block by hash",
    ("GET", "/members"): "members in id order (?after=ID&limit=N)",
    ("GET", "/members/{member_id}"): "a member",
    ("GET", "/members/{member_id}/attributes"): "a member's attribute-change chain",
    ("GET", "/members/{member_id}/attribute-key"): "a member's latest published attribute key",
    ("GET", "/domain-keys"): "every epoch of the domain key, and the current one",
    ("GET", "/domain-keys/{epoch}"): "one epoch of the domain key",
    ("GET", "/devices"): "registered devices in id order (?owner=ID&after=ID&limit=N)",
    ("GET", "/devices/{device_id}"): "a device, its owner and edge, its ReKey of each epoch",
    ("GET", "/records"): "records by owner or keywords (?owner=ID or ?keywords=HASH)",
    ("GET", "/records/{record_id}"): "a record",
    ("GET", "/records/{record_id}/grants"): "a record's grants and revocations",
    ("GET", "/records/{record_id}/accesses"): "how often each grantee opened a record",
    ("GET", "/records/{record_id}/fragments"): "a record's storage: the fragments held here",
    ("POST", "/records/{record_id}/fragments"): "upload a record's fragments (owner)",
    ("POST", "/records/{record_id}/data"): "fetch a granted record's bulk ciphertext",
    ("GET", "/audit"): "the sharing-audit chain (?record=ID, ?requester=ID or ?from=H&to=H)",
    ("GET", "/blacklist"): "blacklisted members",
    ("GET", "/verify"): "check the whole ledger's integrity",
}


def endpoints(routes: Sequence[BaseRoute]) -> list[tuple[str, str]]:
    """Every ``(method, path)`` served by ``routes`` (HEAD, which Starlette adds to GET,
    left out)."""
    out = []
    for route in routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    out.append((method, route.path))
    return out


def index_routes(view: NodeView, served: Sequence[BaseRoute]) -> list[Route]:
    """``/``, ``/health`` and ``/log_level``; ``/`` lists these and ``served``."""

    async def index(request: Request) -> Response:
        listed = [
            {"method": method, "path": path, "description": DESCRIPTIONS.get((method, path), "")}
            for method, path in endpoints([*served, *own])
        ]
        return JSONResponse(
            {
                "name": "iomtshare node",
                "version": package_version(),
                "chain_id": view.genesis.chain_id,
                "explorer": "/explorer",
                "docs": "docs/http-api.md",
                "endpoints": listed,
            }
        )

    async def health(request: Request) -> Response:
        status = view.status()
        # A node needs quorum - 1 peers to decide anything with its own vote.
        needed = max(0, view.genesis.quorum - 1)
        problems = []
        if status.syncing:
            problems.append("catching up with the chain")
        if status.peers_connected < needed:
            problems.append(f"{status.peers_connected} peers connected, a quorum needs {needed}")
        if problems:
            raise Unavailable("not ready: " + "; ".join(problems))
        return JSONResponse(
            {"ok": True, "height": status.height, "peers_connected": status.peers_connected}
        )

    async def get_level(request: Request) -> Response:
        return JSONResponse({"level": logs.current_level()})

    async def put_level(request: Request) -> Response:
        if not _from_loopback(request):
            raise Forbidden("the log level can be changed from this host only")
        level = (await read_json_object(request)).get("level")
        if not isinstance(level, str):
            raise BadRequest("level must be a string such as debug, info or warning")
        try:
            previous = logs.set_level(level)
        except logs.LogSetupError as exc:
            raise BadRequest(str(exc)) from exc
        return JSONResponse({"level": logs.current_level(), "previous": previous})

    own = [
        Route("/", index, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/log_level", get_level, methods=["GET"]),
        Route("/log_level", put_level, methods=["PUT"]),
    ]
    return own


def _from_loopback(request: Request) -> bool:
    client = request.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False
