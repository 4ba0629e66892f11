"""Prometheus metrics of the HTTP API and the node's gauges, in a registry owned by the node.

A per-node :class:`~prometheus_client.CollectorRegistry` (not the process-global one) lets
several nodes share a process in tests, and lets other parts of the node add their own series
to the same ``/metrics`` page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.consensus_stats import ConsensusSnapshot, HistogramSnapshot
from node.view import NodeView

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


class NodeCollector(Collector):
    """Consensus and chain gauges of a :class:`NodeView`, read at scrape time."""

    def __init__(self, view: NodeView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        gauges = self.view.gauges()
        values = {
            "iomtshare_height": ("Height of the last committed block.", gauges.height),
            "iomtshare_round": ("Consensus round at the current height.", gauges.round),
            "iomtshare_pending_items": ("Items waiting for a block.", gauges.pending_items),
            "iomtshare_peers_connected": (
                "Genesis peers with a live connection.",
                gauges.peers_connected,
            ),
            "iomtshare_audit_length": ("Records in the sharing-audit chain.", gauges.audit_length),
            "iomtshare_inbox_items": ("Inputs waiting for the consensus task.", gauges.inbox_items),
            "iomtshare_evidence": ("Misbehaviour evidence gathered since start.", gauges.evidence),
            "iomtshare_submissions_refused_busy": (
                "Client submissions refused as busy (backlog at its bound) since start.",
                gauges.refused_busy,
            ),
        }
        for name, (text, value) in values.items():
            yield GaugeMetricFamily(name, text, value=value)
        queued = GaugeMetricFamily(
            "iomtshare_link_queued_frames", "Consensus frames waiting for a peer.", labels=["peer"]
        )
        dropped = GaugeMetricFamily(
            "iomtshare_link_dropped_frames",
            "Consensus frames dropped for a peer whose queue was full, since start.",
            labels=["peer"],
        )
        for peer, count in gauges.link_queued.items():
            queued.add_metric([str(peer)], count)
        for peer, count in gauges.link_dropped.items():
            dropped.add_metric([str(peer)], count)
        yield queued
        yield dropped
        yield from consensus_metrics(gauges.consensus)
        build = GaugeMetricFamily(
            "iomtshare_build_info",
            "Always 1; the labels say which release, pairing backend and Python this node runs.",
            labels=["version", "pairing_backend", "python"],
        )
        info = gauges.build
        build.add_metric([info.version, info.pairing_backend, info.python], 1)
        yield build


def consensus_metrics(stats: ConsensusSnapshot) -> Iterator[Metric]:
    """The consensus series of :mod:`node.consensus_stats` as Prometheus families."""
    latency = HistogramMetricFamily(
        "iomtshare_consensus_decision_seconds",
        "From a client's item reaching this node's consensus task to its commit, by item kind.",
        labels=["kind"],
    )
    for kind, histogram in sorted(stats.decision_seconds.items()):
        latency.add_metric([kind], _buckets(histogram), histogram.total)
    yield latency
    decisions = CounterMetricFamily(
        "iomtshare_consensus_decisions",
        "Access requests decided in committed blocks, by outcome.",
        labels=["outcome"],
    )
    for outcome, count in sorted(stats.decisions.items()):
        decisions.add_metric([outcome], count)
    yield decisions
    yield CounterMetricFamily(
        "iomtshare_consensus_transactions",
        "Ordinary (non-request) transactions in committed blocks.",
        value=stats.transactions,
    )
    yield CounterMetricFamily(
        "iomtshare_consensus_blocks", "Blocks committed since start.", value=stats.blocks
    )
    yield CounterMetricFamily(
        "iomtshare_consensus_rounds_lost",
        "Rounds that ended without a decision before the committed blocks' own rounds.",
        value=stats.rounds_lost,
    )
    interval = HistogramMetricFamily(
        "iomtshare_consensus_block_interval_seconds",
        "Time between consecutive committed blocks, from their header times.",
    )
    histogram = stats.block_interval_seconds
    interval.add_metric([], _buckets(histogram), histogram.total)
    yield interval


def _buckets(histogram: HistogramSnapshot) -> list[tuple[str, float]]:
    bounds = zip(histogram.bounds, histogram.cumulative, strict=True)
    pairs = [(repr(float(bound)), float(count)) for bound, count in bounds]
    return [*pairs, ("+Inf", float(histogram.count))]
