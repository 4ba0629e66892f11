"""The network between the nodes of a chaos run, as the harness sees it.

A :class:`Fabric` places the nodes (rewriting their addresses), prefixes their command, and
cuts, thins or delays the links between them; :func:`rewire` points every peer link at the
delaying relay (:mod:`testnet.chaos.relay`). :class:`LoopbackFabric` is the fallback where
network namespaces are not allowed: every node on 127.0.0.1 in the harness's namespace, links
through the relay (so latency still works), nothing cut. The namespace fabric is in
:mod:`testnet.chaos.netns`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Protocol

from ledger.keyfiles import write_atomic
from node.config import load_config, save_config
from testnet.chaos.relay import Link, Relay, measure
from testnet.chaos.schedule import LATENCY
from testnet.layout import NETWORK_FILE, Network, free_ports, load_network


def p2p_port(network: Network, node: int) -> int:
    """The port in node ``node``'s p2p listen address."""
    return int(network.node(node).p2p_listen.rsplit("/", 1)[1])


#: The delay the relay is measured with when a fabric is placed.
PROBE_DELAY_MS = 50


class FabricError(Exception):
    """The network fabric could not be built, changed or torn down."""


class Fabric(Protocol):
    """What the harness needs of the network between the nodes."""

    #: ``"netns"`` or ``"loopback"``.
    mode: str
    #: The network fault kinds this fabric can inject (see :mod:`testnet.chaos.schedule`).
    kinds: tuple[str, ...]
    #: Why this fabric was chosen over the one asked for, if it was.
    note: str | None
    #: What the relay measurement at placement found (:func:`testnet.chaos.relay.measure`).
    latency_probe: dict[str, Any]

    def place(self, network: Network) -> Network:
        """Give each node its address; return the network as the harness must reach it."""

    def prefix(self, node: int) -> list[str]:
        """What node ``node``'s command runs under (``[]``: as it is)."""

    def cut(self, links: Iterable[tuple[int, int]]) -> None:
        """Drop every packet from ``a`` to ``b`` for each ``(a, b)`` (added to current cuts)."""

    def lose(self, node: int, percent: int) -> None:
        """Drop ``percent`` % of the packets node ``node`` exchanges with the other nodes."""

    def delay(self, delay_ms: int, jitter_ms: int) -> None:
        """Delay every link by ``delay_ms`` plus up to ``jitter_ms`` (0, 0: no delay)."""

    def heal(self) -> None:
        """Remove every cut, loss and delay."""

    def teardown(self) -> None:
        """Remove everything the fabric created; safe to call twice."""

    def stats(self) -> dict[str, Any]:
        """Traffic the relay carried, per link."""


class LoopbackFabric:
    """Every node on 127.0.0.1 in the current namespace; only latency among network faults."""

    mode = "loopback"
    kinds: tuple[str, ...] = (LATENCY,)

    def __init__(self, seed: int = 0, note: str | None = None) -> None:
        self.note = note
        self.relay: Relay | None = None
        self._seed = seed
        self.latency_probe: dict[str, Any] = {}

    def place(self, network: Network) -> Network:
        n = len(network.nodes)
        ports = iter(free_ports(n * (n - 1) + 2))
        links = [
            Link(i, j, None, ("127.0.0.1", next(ports)), ("127.0.0.1", p2p_port(network, j)))
            for i in range(1, n + 1) for j in range(1, n + 1) if i != j
        ]
        probe = Link(0, 0, None, ("127.0.0.1", next(ports)), ("127.0.0.1", next(ports)))
        placed = rewire(network, {i: "127.0.0.1" for i in range(1, n + 1)}, links)
        self.relay = Relay([*links, probe], self._seed)
        self.relay.start()
        self.latency_probe = measure(self.relay, probe, None, PROBE_DELAY_MS)
        return placed

    def prefix(self, node: int) -> list[str]:
        return []

    def cut(self, links: Iterable[tuple[int, int]]) -> None:
        raise FabricError("links cannot be cut on loopback")

    def lose(self, node: int, percent: int) -> None:
        raise FabricError("packets cannot be dropped on loopback")

    def delay(self, delay_ms: int, jitter_ms: int) -> None:
        if self.relay is None:
            raise FabricError("the relay is not running")
        self.relay.set_delay(delay_ms, jitter_ms)

    def heal(self) -> None:
        if self.relay is not None:
            self.relay.set_delay(0, 0)

    def teardown(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay = None

    def stats(self) -> dict[str, Any]:
        return {} if self.relay is None else self.relay.to_json()


def rewire(network: Network, hosts: dict[int, str], links: Iterable[Link]) -> Network:
    """Rewrite every node's config.toml and ``network.json``: node i listens on ``hosts[i]``
    (same ports) and dials each peer j at its relay link ``i -> j``. Returns the network read
    back."""
    by_pair = {(link.src, link.dst): link for link in links}
    document = network.to_json()
    for entry, node in zip(document["nodes"], network.nodes, strict=True):
        home = network.directory / node.home
        host, port = hosts[node.index], p2p_port(network, node.index)
        peers = tuple(
            f"/ip4/{by_pair[node.index, j.index].listen[0]}/tcp/"
            f"{by_pair[node.index, j.index].listen[1]}/p2p/{j.peer_id}"
            for j in network.nodes if j.index != node.index
        )
        config = load_config(home)
        # A namespace address is not loopback; the node serves it only when told to, and
        # the only ones who can reach it are the harness and the other namespaces.
        extra = {**config.extra, "http_allow_public": host != "127.0.0.1"}
        save_config(home, replace(config, p2p_listen=f"/ip4/{host}/tcp/{port}", http_host=host,
                                  peers=peers, extra=extra))
        entry.update(p2p_listen=f"/ip4/{host}/tcp/{port}", http_host=host,
                     p2p_address=f"/ip4/{host}/tcp/{port}/p2p/{node.peer_id}",
                     http_url=f"http://{host}:{node.http_port}")
    write_atomic(network.directory / NETWORK_FILE,
                 (json.dumps(document, indent=2) + "\n").encode())
    return load_network(network.directory)
