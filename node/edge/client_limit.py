"""Per-client rate limit on the edge's HTTP routes that make it ask consensus nodes for proofs.

Each node admits only so many proof requests a second from an edge (:func:`node.edge.proofs.
proof_gate`); without a limit here, a few unauthenticated HTTP clients asking for random ids
would spend that allowance and the edge's own proof fetches would fail. :class:`ClientLimit`
is ASGI middleware: a request to one of :data:`LIMITED` gets a token from its client address's
bucket (:class:`~node.ratelimit.TokenBuckets`) or a 429 ``rate_limited`` with ``Retry-After``,
counted in ``iomtshare_edge_http_rate_limited_total``. Loopback clients are limited like any
other. At most ``max_clients`` addresses are tracked; the least recently seen is dropped first
(it comes back with a full bucket). Other routes pass untouched.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from node.http.errors import error_body
from node.http.server import HttpConfigError
from node.ratelimit import TokenBuckets

#: Requests a client may make at once to the limited routes, then as many a second. The
#: costliest request (a device upload naming an unknown device) asks every node once, so one
#: client costs each node at most 4 of the 32 proof requests a second it admits from the edge.
CLIENT_BURST = 16
CLIENT_PER_SECOND = 4.0
#: Client addresses tracked at once.
MAX_CLIENTS = 4096

#: The routes that cost proof requests: (method, path pattern, name in the metric).
LIMITED: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"/tx/[^/]+"), "tx"),
    ("GET", re.compile(r"/decisions/[^/]+"), "decisions"),
    ("POST", re.compile(r"/records/[^/]+/data"), "record_data"),
    ("POST", re.compile(r"/devices/[^/]+/uploads"), "device_upload"),
)


def limit_settings(extra: Mapping[str, Any]) -> tuple[int, float]:
    """``(burst, per_second)`` from an edge config's extra settings ``http_client_burst`` and
    ``http_client_per_second`` (the defaults where absent); raises
    :class:`~node.http.server.HttpConfigError` for bad values."""
    burst = extra.get("http_client_burst", CLIENT_BURST)
    rate = extra.get("http_client_per_second", CLIENT_PER_SECOND)
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise HttpConfigError(f"http_client_burst must be an integer >= 1, not {burst!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise HttpConfigError(f"http_client_per_second must be a number > 0, not {rate!r}")
    return burst, float(rate)


class ClientLimit:
    """Middleware limiting each client address on :data:`LIMITED` to ``burst`` requests, then
    ``per_second``, at ``clock()``; refusals are counted in ``registry`` if given."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        burst: int = CLIENT_BURST,
        per_second: float = CLIENT_PER_SECOND,
        max_clients: int = MAX_CLIENTS,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        self.app = app
        self._buckets: TokenBuckets[str] = TokenBuckets(burst, per_second)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._max_clients = max_clients
        self._clock = clock
        self._retry_after = str(max(1, math.ceil(1.0 / per_second)))
        self.refused = Counter(
            "iomtshare_edge_http_rate_limited",
            "Requests to proof-costing routes refused 429 by the per-client rate limit",
            ["route"],
            registry=registry,
        )

    @property
    def tracked(self) -> int:
        """Client addresses with a bucket now."""
        return len(self._seen)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _limited(scope) if scope["type"] == "http" else None
        if route is not None and not self._admit(_client(scope)):
            self.refused.labels(route=route).inc()
            message = "too many requests from this client to routes that fetch proofs; retry"
            answer = JSONResponse(
                error_body("rate_limited", message),
                status_code=429,
                headers={"Retry-After": self._retry_after},
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _admit(self, client: str) -> bool:
        self._seen[client] = None
        self._seen.move_to_end(client)
        while len(self._seen) > self._max_clients:
            oldest, _ = self._seen.popitem(last=False)
            self._buckets.forget(oldest)
        return self._buckets.take(client, self._clock())


def _limited(scope: Scope) -> str | None:
    method, path = scope.get("method", ""), scope.get("path", "")
    for wanted, pattern, name in LIMITED:
        if method == wanted and pattern.fullmatch(path):
            return name
    return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
