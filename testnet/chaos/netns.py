"""Nodes in network namespaces of their own, links cut by nftables.

:class:`NamespaceFabric` (needs root): a namespace per node, each with a veth into one bridge in
the harness's namespace, addresses from ``10.77.X.0/24`` (X the first subnet no interface uses
yet): the bridge ``.1`` (where the harness's HTTP calls come from), node i ``.(10+i)``. Cuts and
loss are nftables rules in the nodes' namespaces, on node addresses only, so the harness still
reaches every node. Every peer link goes through the delaying relay, which listens on 127.0.0.1
inside the dialling node's namespace and connects from there, so packets keep their addresses.

:func:`choose_fabric` falls back to :class:`~testnet.chaos.fabric.LoopbackFabric`, with a
message, where namespaces are not allowed. Everything created is named ``ichaos...`` so that
:func:`clean_leftovers` (``--cleanup``) finds what an interrupted run left.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from testnet.chaos.fabric import (
    PROBE_DELAY_MS,
    Fabric,
    FabricError,
    LoopbackFabric,
    p2p_port,
    rewire,
)
from testnet.chaos.faults import run_command
from testnet.chaos.relay import Link, Relay, RelayError, measure
from testnet.chaos.schedule import LATENCY, NETWORK_KINDS
from testnet.launcher import stop
from testnet.layout import Network

PREFIX = "ichaos"
#: Port of the relay to peer j inside node i's namespace (each namespace has its own ports).
RELAY_BASE_PORT = 41000
#: Where the echo server of the relay measurement listens, in node 1's namespace.
ECHO_PORT = 40999
TABLE = "inet chaos"


class NamespaceFabric:
    """A namespace per node on one bridge; cuts and loss by nftables, delay by the relay."""

    mode = "netns"
    kinds: tuple[str, ...] = (*NETWORK_KINDS, LATENCY)

    def __init__(self, n: int, seed: int = 0) -> None:
        # Random, not the pid: names must differ between fabrics of one process too, since the
        # kernel frees a deleted namespace's veths a little later.
        self.tag = secrets.token_hex(2)
        self.subnet = _free_subnet()
        self.n = n
        self.note: str | None = None
        self.relay: Relay | None = None
        self._seed = seed
        self._made: list[list[str]] = []  # undo commands, run in reverse at teardown
        self.latency_probe: dict[str, Any] = {}

    def namespace(self, node: int) -> str:
        return f"{PREFIX}-{self.tag}-{node}"

    def address(self, node: int) -> str:
        return f"{self.subnet}.{10 + node}"

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.tag}"

    def build(self) -> None:
        """Create the bridge, the namespaces and their veths; raises FabricError (and removes
        what it made)."""
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            self._made.append(["ip", "link", "del", self.bridge])
            _ip("addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for node in range(1, self.n + 1):
                ns = self.namespace(node)
                host, inner = f"ic{self.tag}{node}h", f"ic{self.tag}{node}n"
                _ip("netns", "add", ns)
                self._made.append(["ip", "netns", "del", ns])
                _ip("link", "add", host, "type", "veth", "peer", "name", inner)
                # Deleting one end deletes the pair at once (a namespace's go with it later).
                self._made.append(["ip", "link", "del", host])
                _ip("link", "set", inner, "netns", ns)
                _ip("link", "set", host, "master", self.bridge, "up")
                _ip("-n", ns, "addr", "add", f"{self.address(node)}/24", "dev", inner)
                _ip("-n", ns, "link", "set", inner, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
                self._nft(node, "table inet chaos {\n"
                          "  chain input { type filter hook input priority 0; policy accept; }\n"
                          "  chain output { type filter hook output priority 0; policy accept; }\n"
                          "}\n")
        except FabricError:
            self.teardown()
            raise

    def place(self, network: Network) -> Network:
        links = [
            Link(i, j, self.namespace(i), ("127.0.0.1", RELAY_BASE_PORT + j),
                 (self.address(j), p2p_port(network, j)))
            for i in range(1, self.n + 1) for j in range(1, self.n + 1) if i != j
        ]
        probe = Link(0, 0, self.namespace(2), ("127.0.0.1", RELAY_BASE_PORT),
                     (self.address(1), ECHO_PORT))
        placed = rewire(network, {i: self.address(i) for i in range(1, self.n + 1)}, links)
        self.relay = Relay([*links, probe], self._seed)
        try:
            self.relay.start()
            self.latency_probe = measure(self.relay, probe, self.namespace(1), PROBE_DELAY_MS)
        except (RelayError, OSError) as exc:
            raise FabricError(f"the relay between namespaces does not work: {exc}") from exc
        return placed

    def prefix(self, node: int) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(node)]

    def cut(self, links: Iterable[tuple[int, int]]) -> None:
        rules: dict[int, list[str]] = {}
        for a, b in links:
            rule = f"add rule {TABLE} output ip daddr {self.address(b)} drop"
            rules.setdefault(a, []).append(rule)
        for node, lines in sorted(rules.items()):
            self._nft(node, "\n".join(lines) + "\n")

    def lose(self, node: int, percent: int) -> None:
        if not 0 <= percent <= 100:
            raise FabricError(f"a loss of {percent}% is not a percentage")
        if percent == 0:
            return
        peers = ", ".join(self.address(j) for j in range(1, self.n + 1) if j != node)
        # numgen draws 0..99: "< percent" drops that share; 100 % needs no draw at all.
        chance = "" if percent == 100 else f"numgen random mod 100 < {percent} "
        self._nft(node,
                  f"add rule {TABLE} input ip saddr {{ {peers} }} {chance}drop\n"
                  f"add rule {TABLE} output ip daddr {{ {peers} }} {chance}drop\n")

    def delay(self, delay_ms: int, jitter_ms: int) -> None:
        if self.relay is None:
            raise FabricError("the relay is not running")
        self.relay.set_delay(delay_ms, jitter_ms)

    def heal(self) -> None:
        for node in range(1, self.n + 1):
            self._nft(node, "flush table inet chaos\n")
        if self.relay is not None:
            self.relay.set_delay(0, 0)

    def teardown(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        while self._made:
            run_command(self._made.pop())

    def stats(self) -> dict[str, Any]:
        return {} if self.relay is None else self.relay.to_json()

    def _nft(self, node: int, script: str) -> None:
        command = ["ip", "netns", "exec", self.namespace(node), "nft", "-f", "-"]
        done = subprocess.run(command, input=script, capture_output=True, text=True,
                              timeout=30, check=False)
        if done.returncode != 0:
            raise FabricError(f"nft in {self.namespace(node)}: {done.stderr.strip()}")


def _ip(*args: str) -> None:
    failure = run_command(["ip", *args])
    if failure is not None:
        raise FabricError(failure)


def _free_subnet() -> str:
    """``10.77.X`` for the first X no interface of this namespace has an address in."""
    try:
        shown = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True,
                               timeout=10, check=False).stdout
    except OSError as exc:
        raise FabricError(f"cannot run ip: {exc}") from exc
    for third in range(256):
        if f" 10.77.{third}." not in shown:
            return f"10.77.{third}"
    raise FabricError("no free 10.77.X.0/24 subnet")


def choose_fabric(mode: str, n: int, progress: Callable[[str], None], seed: int = 0) -> Fabric:
    """The fabric for ``mode`` (``auto``, ``netns`` or ``loopback``), built. ``auto`` falls back
    to loopback with a message saying why; ``netns`` raises FabricError instead."""
    if mode not in ("auto", "netns", "loopback"):
        raise FabricError(f"unknown network mode {mode!r}")
    if mode == "loopback":
        return LoopbackFabric(seed)
    why = _namespaces_unavailable()
    if why is None:
        fabric = NamespaceFabric(n, seed)
        try:
            fabric.build()
            return fabric
        except FabricError as exc:
            why = str(exc)
    if mode == "netns":
        raise FabricError(f"network namespaces are not available: {why}")
    note = (f"network namespaces not available ({why}); every node on loopback, "
            "so partitions and packet loss are skipped")
    progress(note)
    return LoopbackFabric(seed, note)


def _namespaces_unavailable() -> str | None:
    """Why this process cannot make namespaces with nftables in them, or ``None``."""
    if os.geteuid() != 0:
        return "not root"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install {package})"
    return None


def clean_leftovers(directory: Path, tag: str | None = None) -> list[str]:
    """Remove what an interrupted run left: node processes of ``directory``, its data tmpfs,
    and every ``ichaos`` namespace and bridge, or only those of fabric ``tag`` (so a test
    cleaning up after itself spares a run going on beside it). Returns a line per thing
    removed."""
    namespace_start = f"{PREFIX}-" if tag is None else f"{PREFIX}-{tag}-"
    link_tags = None if tag is None else {f"{PREFIX}{tag}", f"ic{tag}"}
    done = [f"stopped node process {pid}" for pid in stop(directory, grace=5.0)]
    for mount in _mounts_under(directory):
        failure = run_command(["umount", mount])
        done.append(f"unmounted {mount}" if failure is None else failure)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            check=False).stdout if shutil.which("ip") else ""
    for name in [line.split()[0] for line in listed.splitlines() if line.strip()]:
        if name.startswith(namespace_start):
            failure = run_command(["ip", "netns", "del", name])
            done.append(f"deleted namespace {name}" if failure is None else failure)
    # Veths first (a host end left by a run stopped between creating and moving it), then
    # the bridges.
    links = [n for n in _links() if link_tags is None or any(n.startswith(t) for t in link_tags)]
    for name in sorted(links, key=lambda name: name.startswith(PREFIX)):
        failure = run_command(["ip", "link", "del", name])
        what = "bridge" if name.startswith(PREFIX) else "veth"
        done.append(f"deleted {what} {name}" if failure is None else failure)
    return done or ["nothing to clean"]


#: The names :class:`NamespaceFabric` gives its bridge and the host ends of its veths.
_OUR_LINK = re.compile(rf"^({PREFIX}[0-9a-f]{{4}}|ic[0-9a-f]{{4}}\d+h)$")


def _links() -> list[str]:
    if shutil.which("ip") is None:
        return []
    shown = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                           check=False).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in shown.splitlines()
             if line.count(":") >= 2]
    return [name for name in names if _OUR_LINK.match(name)]


def _mounts_under(directory: Path) -> list[str]:
    root = str(directory.resolve())
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return [p for p in points if p == root or p.startswith(root + "/")]
