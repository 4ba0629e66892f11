"""Where the nodes of a chaos run live, and how links between them are cut.

A :class:`Fabric` places the nodes (rewriting their addresses), prefixes their command, and
cuts, thins or delays the links between them. :class:`LoopbackFabric` is the fallback: every
node on 127.0.0.1, no network faults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from testnet.chaos.faults import run_command
from testnet.launcher import stop
from testnet.layout import Network


class FabricError(Exception):
    """The network fabric could not be built, changed or torn down."""


class Fabric(Protocol):
    """What the harness needs of the network between the nodes."""

    #: ``"netns"`` or ``"loopback"``.
    mode: str
    #: The network fault kinds this fabric can inject (see :mod:`testnet.chaos.schedule`).
    kinds: tuple[str, ...]

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


class LoopbackFabric:
    """Every node on 127.0.0.1 in the current namespace: process faults only."""

    mode = "loopback"
    kinds: tuple[str, ...] = ()

    def place(self, network: Network) -> Network:
        return network

    def prefix(self, node: int) -> list[str]:
        return []

    def cut(self, links: Iterable[tuple[int, int]]) -> None:
        raise FabricError("links cannot be cut on loopback")

    def lose(self, node: int, percent: int) -> None:
        raise FabricError("packets cannot be dropped on loopback")

    def delay(self, delay_ms: int, jitter_ms: int) -> None:
        raise FabricError("links cannot be delayed on loopback")

    def heal(self) -> None:
        """Nothing to heal."""

    def teardown(self) -> None:
        """Nothing to remove."""


def choose_fabric(mode: str, n: int, progress: Callable[[str], None]) -> Fabric:
    """The fabric for ``mode`` (``auto``, ``netns`` or ``loopback``); raises FabricError when
    ``netns`` is asked for and cannot be had."""
    if mode not in ("auto", "netns", "loopback"):
        raise FabricError(f"unknown network mode {mode!r}")
    if mode == "netns":
        raise FabricError("network namespaces are not implemented yet")
    if mode == "auto":
        progress("network faults unavailable: running every node on loopback "
                 "(process, skew and disk faults only)")
    return LoopbackFabric()


def clean_leftovers(directory: Path) -> list[str]:
    """Remove what an interrupted run in ``directory`` left: node processes and the data
    tmpfs. Returns a line per thing removed (or one saying there was nothing)."""
    done = [f"stopped node process {pid}" for pid in stop(directory, grace=5.0)]
    for mount in _mounts_under(directory):
        failure = run_command(["umount", mount])
        done.append(f"unmounted {mount}" if failure is None else failure)
    return done or ["nothing to clean"]


def _mounts_under(directory: Path) -> list[str]:
    root = str(directory.resolve())
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return [p for p in points if p == root or p.startswith(root + "/")]
