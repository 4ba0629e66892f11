"""One chaos run, start to end: build the network, start the nodes, load them, inject the
seeded faults, heal, check, report; and always tear down what it built.

The order matters: the final heal comes before the liveness probe, the load stops before the
chains are read, the nodes stop before their ledgers are verified, and the data tmpfs is
unmounted and the namespaces deleted last, in ``finally`` blocks, also on Ctrl-C.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import trio

from client import ClientError, NodeClient
from crypto.groups import load_group
from testnet.chaos import checks
from testnet.chaos.checks import Check
from testnet.chaos.events import Injector, Outcome, heights
from testnet.chaos.fabric import Fabric, LoopbackFabric
from testnet.chaos.faults import DataDisk, NodeProcesses
from testnet.chaos.load import LoadGenerator, prepare
from testnet.chaos.report import build_report
from testnet.chaos.schedule import (
    DISK,
    PROCESS_KINDS,
    ScheduleError,
    Timing,
    build_schedule,
    parse_kinds,
)
from testnet.launcher import LOG_FILE, LaunchError
from testnet.layout import create_network

Progress = Callable[[str], None]

#: Calm time after an event's recovery before the next event, whatever the schedule planned.
MIN_GAP_S = 2.0


@dataclass(frozen=True, slots=True)
class ChaosSettings:
    """What a run does; everything random in it is drawn from ``seed``."""

    seed: int
    duration_s: float
    directory: Path
    faults: str = "all"
    nodes: int = 4
    requesters: int = 3
    rate: float = 1.0
    network: str = "auto"
    clock_skew_ms: int = 2_000
    decision_timeout_s: float = 30.0
    liveness_bound_s: float = 60.0
    recovery_limit_s: float = 60.0
    settle_s: float = 60.0
    block_interval_ms: int = 100
    round_timeout_ms: int = 1_000
    timing: Timing = field(default_factory=Timing)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "directory": str(self.directory)}


def run(settings: ChaosSettings, fabric: Fabric | None = None,
        progress: Progress = lambda _: None) -> dict[str, Any]:
    """Run the chaos test; return the report (``report["ok"]`` says whether every check held).
    ``fabric`` (:func:`testnet.chaos.netns.choose_fabric`; loopback if ``None``) is torn down
    whatever happens.

    Raises :class:`~testnet.chaos.schedule.ScheduleError` for bad settings and
    :class:`~testnet.launcher.LaunchError` if the network does not come up.
    """
    fabric = fabric or LoopbackFabric(settings.seed)
    started = time.monotonic()
    disk: DataDisk | None = None
    try:
        kinds = parse_kinds(settings.faults)
        network = fabric.place(create_network(
            settings.directory, settings.nodes, overwrite=True,
            block_interval_ms=settings.block_interval_ms,
            round_timeout_ms=settings.round_timeout_ms,
        ))
        rng = random.Random(settings.seed)
        disk_node = rng.randint(1, settings.nodes)
        skipped = {k: "not possible on this network" for k in kinds
                   if k not in (*PROCESS_KINDS, DISK, *fabric.kinds)}
        if DISK in kinds:
            disk = DataDisk(network.directory / network.node(disk_node).home / "data")
            reason = disk.mount()
            if reason is not None:
                progress(f"full-disk faults skipped: cannot mount a tmpfs ({reason})")
                skipped[DISK], disk = f"cannot mount a tmpfs: {reason}", None
        usable = tuple(k for k in kinds if k not in skipped)
        if not usable:
            raise ScheduleError(f"none of the fault kinds {', '.join(kinds)} can run here")
        schedule = build_schedule(settings.seed, settings.duration_s, usable, settings.nodes,
                                  disk_node=disk_node, timing=settings.timing)
        skews = {i: rng.randint(-settings.clock_skew_ms, settings.clock_skew_ms)
                 for i in range(1, settings.nodes + 1)}
        environment = {"mode": fabric.mode, "note": fabric.note,
                       "relay_probe": fabric.latency_probe,
                       "skipped_kinds": skipped, "disk_node": disk_node if disk else None,
                       "base_clock_skews_ms": {str(i): s for i, s in skews.items()},
                       "threshold": network.genesis.threshold, "quorum": network.genesis.quorum}

        def clock() -> float:
            """Seconds since the run started: the one clock of events, requests and exits."""
            return time.monotonic() - started

        procs = NodeProcesses(network, fabric.prefix, clock, skews)
        try:
            for node in range(1, settings.nodes + 1):
                procs.start(node)
            _wait_connected(network.http_urls, procs, 90.0)
            progress(f"{settings.nodes} nodes up ({fabric.mode}); preparing the requesters")
            group = load_group()
            fixture = prepare(network.nodes[0].http_url, network.authority_key(), group,
                              settings.requesters)
            load = LoadGenerator(network.http_urls, fixture, network.chain_id,
                                 rate=settings.rate, decision_timeout_s=settings.decision_timeout_s,
                                 clock=clock)
            injector = Injector(procs, fabric, disk, network.http_urls, clock, progress)
            try:
                outcomes, liveness = trio.run(_inject, injector, load, schedule, settings, clock)
            except BaseException:
                load.abandon()  # interrupted: nothing left to wait for
                raise
            extra = _after(settings, network.http_urls, load, liveness, progress)
        finally:
            procs.stop_all()
        verified = {i: checks.verify_ledger(procs.home(i)) for i in range(1, settings.nodes + 1)}
        all_checks = [
            *extra.pop("checks"),
            checks.judge_verify(verified),
            checks.judge_exits(procs.exits),
            checks.judge_restarts({i: checks.collect_restarts(procs.home(i) / LOG_FILE)
                                   for i in range(1, settings.nodes + 1)}),
            checks.judge_liveness(liveness, settings.liveness_bound_s),
        ]
        extra["node_exits"] = [e.to_json() for e in procs.exits if not e.expected]
        extra["restarted_after_dying"] = injector.restarted_on_their_own
        extra["relay"] = fabric.stats()
        extra["run_s"] = round(clock(), 1)
        return build_report(settings=settings.to_json(), environment=environment,
                            outcomes=outcomes, records=load.records, checks=all_checks,
                            extra=extra)
    finally:
        if disk is not None:
            disk.unmount()
        fabric.teardown()


async def _inject(
    injector: Injector, load: LoadGenerator, schedule: list[Any], settings: ChaosSettings,
    clock: Callable[[], float],
) -> tuple[list[Outcome], float | None]:
    """Load on, every event in turn (a later one waits for the earlier one's recovery), the
    final heal, then the liveness probe. Returns the outcomes and the liveness time."""
    outcomes: list[Outcome] = []
    load.start()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(injector.watch)
            # The schedule's times count from here, when the load starts.
            begin = ready = clock()
            end = begin + settings.duration_s
            unseen = {event.kind for event in schedule}
            for event in schedule:
                # A slow recovery pushes the rest of the schedule back rather than piling one
                # fault onto the aftermath of the last; and a slow machine still meets every
                # kind the schedule holds once, even if that takes longer than planned.
                start = max(begin + event.start_s, ready)
                if start + event.hold_s > end and not unseen:
                    break
                await trio.sleep(max(0.0, start - clock()))
                outcomes.append(await injector.run(event, settings.recovery_limit_s))
                unseen.discard(event.kind)
                ready = clock() + MIN_GAP_S
            await trio.sleep(max(0.0, end - clock()))
            await injector.heal_all()
            injector.progress(f"[{clock():7.1f} s] healed; probing liveness")
            liveness = await trio.to_thread.run_sync(load.probe, settings.liveness_bound_s)
            nursery.cancel_scope.cancel()
    except BaseException:
        load.abandon()  # interrupted: the decisions still awaited will not come
        raise
    finally:
        await trio.to_thread.run_sync(load.stop)
    return outcomes, liveness


def _wait_connected(urls: tuple[str, ...], procs: NodeProcesses, timeout_s: float) -> None:
    """Until every node sees all its peers; raises LaunchError with the log of a node that
    exited or, after ``timeout_s``, of the first one not connected."""
    deadline = time.monotonic() + timeout_s
    want = len(urls) - 1
    while True:
        ended = procs.check()
        if ended:
            raise LaunchError(f"node {ended[0].node} exited with status {ended[0].code} while "
                              f"starting; its log ends:\n{ended[0].log_tail}")
        connected = []
        for url in urls:
            try:
                with NodeClient(url, timeout=2.0, retry_budget=0) as client:
                    connected.append(int(client.status().get("peers_connected", 0)))
            except ClientError:
                connected.append(-1)
        if min(connected) >= want:
            return
        if time.monotonic() > deadline:
            raise LaunchError(f"nodes not connected after {timeout_s:g} s "
                              f"(peers seen: {connected}, -1 = no answer)")
        time.sleep(0.25)


def _after(settings: ChaosSettings, urls: tuple[str, ...], load: LoadGenerator,
           liveness: float | None, progress: Progress) -> dict[str, Any]:
    """Let the nodes settle on one height, read every chain, judge chains and requests."""
    deadline = time.monotonic() + settings.settle_s
    while time.monotonic() < deadline:
        now = heights(urls)
        if None not in now and len(set(now)) == 1:
            break
        time.sleep(0.5)
    progress(f"settled at heights {heights(urls)}; reading the chains")
    chains: dict[int, list[tuple[int, str]]] = {}
    unread: dict[int, str] = {}
    for i, url in enumerate(urls, start=1):
        try:
            chains[i] = checks.collect_chain(url)
        except ClientError as exc:
            unread[i] = str(exc)
    acked = [r.request_id for r in load.records if r.request_id is not None]
    if not chains:
        failed = Check("chains agree", False, "no node answered", {"unread": unread})
        return {"checks": [failed], "liveness_s": liveness, "chain_height": None}
    longest = max(chains, key=lambda i: len(chains[i]))
    counts = checks.collect_tx_counts(urls[longest - 1], len(chains[longest]))
    found: list[Check] = [checks.judge_chains(chains, unread),
                          checks.judge_requests(acked, counts)]
    return {"checks": found, "liveness_s": liveness, "chain_height": len(chains[longest])}
