"""Prometheus metrics of the HTTP API, kept in a registry owned by the node.

A per-node :class:`~prometheus_client.CollectorRegistry` (not the process-global one) lets
several nodes share a process in tests, and lets other parts of the node add their own series
to the same ``/metrics`` page.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Paths that match no route share one label value, so scanners cannot blow up cardinality.
UNMATCHED = "unmatched"


class ApiMetrics:
    """Request counters and latencies, labelled by route template and status code."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "iomtshare_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "iomtshare_http_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            registry=registry,
        )
        self.internal_errors = Counter(
            "iomtshare_http_internal_errors",
            "Requests that ended in an unexpected exception (a 500 with an error id).",
            registry=registry,
        )


class MetricsMiddleware:
    """Pure ASGI middleware that records every HTTP request in :class:`ApiMetrics`."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            label = route.path if isinstance(route, BaseRoute) and hasattr(route, "path") else None
            route_label = label if isinstance(label, str) else UNMATCHED
            self.metrics.requests.labels(route_label, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route_label).observe(time.perf_counter() - started)
