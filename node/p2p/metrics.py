"""Prometheus series of the p2p layer, registered in the node's own registry.

Label values come only from bounded sets (registered topics and protocols, fixed reasons and
outcomes), so a peer cannot grow the number of series.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class P2PMetrics:
    """Counters and gauges updated by the host, gossip and request/response code."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.peers = Gauge(
            "iomtshare_p2p_connected_peers",
            "Genesis members with a live connection to this node.",
            registry=registry,
        )
        self.refused = Counter(
            "iomtshare_p2p_refused_connections",
            "Connections dropped because the peer is not in genesis.",
            ["direction"],
            registry=registry,
        )
        self.gossip_published = Counter(
            "iomtshare_p2p_gossip_published",
            "Gossip messages published by this node.",
            ["topic"],
            registry=registry,
        )
        self.gossip_received = Counter(
            "iomtshare_p2p_gossip_received",
            "Gossip messages accepted and handed to a topic handler.",
            ["topic"],
            registry=registry,
        )
        self.gossip_dropped = Counter(
            "iomtshare_p2p_gossip_dropped",
            "Gossip messages refused by validation.",
            ["topic", "reason"],
            registry=registry,
        )
        self.requests_served = Counter(
            "iomtshare_p2p_requests_served",
            "Inbound requests answered, by protocol and answer status.",
            ["protocol", "status"],
            registry=registry,
        )
        self.requests_sent = Counter(
            "iomtshare_p2p_requests_sent",
            "Outbound requests, by protocol and outcome.",
            ["protocol", "outcome"],
            registry=registry,
        )

    def count_peers_with(self, count: Callable[[], int]) -> None:
        """Read the connected-peer gauge from ``count`` at scrape time."""
        self.peers.set_function(lambda: float(count()))
