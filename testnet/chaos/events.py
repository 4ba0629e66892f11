"""Applying and healing the faults of a schedule, and watching the network recover.

:class:`Injector` turns one :class:`~testnet.chaos.schedule.FaultEvent` into signals, nftables
rules, relay delays or a shrunk disk, holds it, heals it, then waits until every node has
passed the height the network had reached at the heal (the event's recovery time). Process
operations block (a SIGTERMed node gets seconds to stop), so they run in a worker thread, one
at a time under a lock shared with the watcher that looks for nodes dying on their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from client import ClientError, NodeClient
from testnet.chaos import schedule as kinds
from testnet.chaos.fabric import Fabric
from testnet.chaos.faults import DataDisk, NodeProcesses
from testnet.chaos.schedule import FaultEvent

logger = logging.getLogger("iomtshare.testnet.chaos")

#: How often node statuses are polled while waiting for recovery.
POLL_S = 0.25
#: How often the watcher looks for processes that ended.
WATCH_S = 0.5


@dataclass(slots=True)
class Outcome:
    """What happened to one event: when it was applied and healed, and how long the network
    took to pass its height at the heal (``None``: not within the recovery limit)."""

    event: FaultEvent
    applied_s: float
    healed_s: float | None = None
    recovery_s: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.event.to_json(),
            "applied_s": round(self.applied_s, 3),
            "healed_s": None if self.healed_s is None else round(self.healed_s, 3),
            "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 3),
            "error": self.error,
        }


def heights(urls: Sequence[str]) -> list[int | None]:
    """Each node's height, ``None`` where it does not answer within a second."""
    found: list[int | None] = []
    for url in urls:
        try:
            with NodeClient(url, timeout=1.0, retry_budget=0) as client:
                found.append(int(client.status()["height"]))
        except (ClientError, KeyError, TypeError, ValueError):
            found.append(None)
    return found


class Injector:
    """Applies events to ``procs`` (processes), ``fabric`` (links) and ``disk`` (if any)."""

    def __init__(
        self,
        procs: NodeProcesses,
        fabric: Fabric,
        disk: DataDisk | None,
        urls: Sequence[str],
        clock: Callable[[], float],
        progress: Callable[[str], None],
    ) -> None:
        self.procs = procs
        self.fabric = fabric
        self.disk = disk
        self.urls = list(urls)
        self.clock = clock
        self.progress = progress
        self.lock = trio.Lock()
        self.restarted_on_their_own = 0

    async def _proc(self, operation: Callable[[], object]) -> None:
        async with self.lock:
            await trio.to_thread.run_sync(operation)

    async def run(self, event: FaultEvent, recovery_limit_s: float) -> Outcome:
        """Apply, hold, heal and watch recovery; an error in applying is recorded, healed
        as far as possible, and does not stop the run."""
        outcome = Outcome(event, self.clock())
        self.progress(f"[{outcome.applied_s:7.1f} s] #{event.index} {event.describe()}"
                      f" for {event.hold_s:.1f} s")
        try:
            await self._apply(event)
        except Exception as exc:  # recorded in the report; the run goes on healed
            logger.exception("applying %s failed", event.describe())
            outcome.error = f"apply: {exc!r}"
        try:
            await self._heal(event)
        except Exception as exc:
            logger.exception("healing %s failed", event.describe())
            outcome.error = (outcome.error or "") + f" heal: {exc!r}"
        outcome.healed_s = self.clock()
        outcome.recovery_s = await self.recovery(recovery_limit_s)
        return outcome

    async def recovery(self, limit_s: float) -> float | None:
        """Seconds until every node has passed the highest height seen now; ``None`` if that
        takes longer than ``limit_s``."""
        start = self.clock()
        now = await trio.to_thread.run_sync(heights, self.urls)
        target = max((h for h in now if h is not None), default=0) + 1
        with trio.move_on_after(limit_s):
            while True:
                now = await trio.to_thread.run_sync(heights, self.urls)
                if all(h is not None and h >= target for h in now):
                    return self.clock() - start
                await trio.sleep(POLL_S)
        return None

    async def watch(self) -> None:
        """Forever: record nodes that ended unasked and start them again, so that one crash
        does not spoil the rest of the run (the report still counts it)."""
        while True:
            await trio.sleep(WATCH_S)
            async with self.lock:
                ended = await trio.to_thread.run_sync(self.procs.check)
                for exit_ in ended:
                    self.progress(f"[{exit_.at_s:7.1f} s] node {exit_.node} exited "
                                  f"({exit_.code}) {exit_.cause}")
                    if exit_.node in self.procs.excuses:
                        continue  # started again when its fault is healed
                    await trio.to_thread.run_sync(self.procs.start, exit_.node)
                    self.restarted_on_their_own += 1

    async def heal_all(self) -> None:
        """Undo everything: links, disk, paused and stopped processes (the final heal)."""
        await trio.to_thread.run_sync(self.fabric.heal)
        if self.disk is not None and self.disk.mounted:
            await trio.to_thread.run_sync(self.disk.free)
        for node in range(1, len(self.urls) + 1):
            await self._proc(partial(self._ensure_running, node))

    # -- per kind ----------------------------------------------------------------------------

    async def _apply(self, event: FaultEvent) -> None:
        kind, (node, *_) = event.kind, (*event.nodes, 0)
        hold = event.hold_s
        if kind == kinds.KILL:
            await self._proc(lambda: self.procs.kill(node))
        elif kind == kinds.TERM:
            await self._proc(lambda: self.procs.term(node))
        elif kind == kinds.STOP:
            await self._proc(lambda: self.procs.pause(node))
        elif kind == kinds.SKEW:
            await self._proc(lambda: self._restart(node, event.amount))
        elif kind in (kinds.PARTITION, kinds.SPLIT):
            self.fabric.cut(_both_ways(event.nodes, event.others))
        elif kind == kinds.ONE_WAY:
            self.fabric.cut((a, b) for a in event.nodes for b in event.others)
        elif kind == kinds.LOSS:
            self.fabric.lose(node, event.amount)
        elif kind == kinds.LATENCY:
            self.fabric.delay(event.amount, event.jitter)
        elif kind == kinds.DISK:
            if self.disk is None:
                raise RuntimeError("no data disk was mounted")
            self.procs.excuses[node] = "under a full disk"
            used = await trio.to_thread.run_sync(self.disk.fill)
            self.progress(f"          node {node}'s data disk full at {used / 1024:.0f} KiB")
        if kind == kinds.FLAP:
            await self._flap(event)
        else:
            await trio.sleep(hold)

    async def _flap(self, event: FaultEvent) -> None:
        """Cut and restore the links every ``amount`` ms for the hold time."""
        cut = False
        with trio.move_on_after(event.hold_s):
            while True:
                if cut:
                    await trio.to_thread.run_sync(self.fabric.heal)
                else:
                    await trio.to_thread.run_sync(
                        self.fabric.cut, _both_ways(event.nodes, event.others)
                    )
                cut = not cut
                await trio.sleep(event.amount / 1000)

    async def _heal(self, event: FaultEvent) -> None:
        kind, (node, *_) = event.kind, (*event.nodes, 0)
        if kind in (kinds.KILL, kinds.TERM):
            await self._proc(lambda: self._ensure_running(node))
        elif kind == kinds.STOP:
            await self._proc(lambda: self.procs.resume(node))
        elif kind == kinds.SKEW:
            await self._proc(lambda: self._restart(node, None))
        elif kind in kinds.NETWORK_KINDS or kind == kinds.LATENCY:
            await trio.to_thread.run_sync(self.fabric.heal)
        elif kind == kinds.DISK and self.disk is not None:
            await trio.to_thread.run_sync(self.disk.free)
            await self._proc(lambda: self._ensure_running(node))
            self.procs.excuses.pop(node, None)

    def _restart(self, node: int, skew_ms: int | None) -> None:
        if self.procs.is_running(node):
            self.procs.term(node)
        self.procs.start(node, skew_ms)

    def _ensure_running(self, node: int) -> None:
        """Running again, unpaused, with its base clock skew."""
        self.procs.check()
        self.procs.resume(node)
        if not self.procs.is_running(node):
            self.procs.start(node)


def _both_ways(side: Sequence[int], others: Sequence[int]) -> list[tuple[int, int]]:
    return [pair for a in side for b in others for pair in ((a, b), (b, a))]
