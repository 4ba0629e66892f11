"""The seeded fault schedule of a chaos run: which fault, on which nodes, when, for how long.

:func:`build_schedule` is pure: the same seed, duration, kinds and node count always give the
same events, so a failing run is replayed with its seed. Events do not overlap: each one is
applied, held, healed, and followed by a calm gap in which the network is expected to recover.
The kinds are drawn round-robin from a seeded shuffle, so a short run still meets every kind
it was given once before any kind comes back.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: SIGKILL, then a restart after the hold.
KILL = "kill"
#: SIGSTOP, then SIGCONT after the hold (the process is frozen, its sockets stay open).
STOP = "stop"
#: SIGTERM (a clean shutdown), then a restart after the hold.
TERM = "term"
#: A restart with the node's wall clock shifted by ``amount`` ms; restarted unskewed after.
SKEW = "skew"
#: One node cut off from all others (nftables, both directions).
PARTITION = "partition"
#: Two halves cut from each other: with 4 nodes and quorum 3 neither side can commit.
SPLIT = "split"
#: Packets from ``nodes`` to ``others`` dropped, the other direction left alone.
ONE_WAY = "one-way"
#: A one-node partition switched on and off every ``amount`` ms during the hold.
FLAP = "flap"
#: ``amount`` percent of the packets to and from one node dropped at random (nft numgen).
LOSS = "loss"
#: ``amount`` ms of delay plus up to ``jitter`` ms more on every link (the delaying relay).
LATENCY = "latency"
#: The data directory of one node (a tmpfs) shrunk to what it already holds.
DISK = "disk"

PROCESS_KINDS = (KILL, STOP, TERM, SKEW)
NETWORK_KINDS = (PARTITION, SPLIT, ONE_WAY, FLAP, LOSS)
ALL_KINDS = (*PROCESS_KINDS, *NETWORK_KINDS, LATENCY, DISK)

#: Wall-clock shifts a skew fault may apply, in ms. The nodes refuse block times more than
#: 30 s ahead of their own clock (node.blocks.MAX_CLOCK_SKEW_MS), so skews stay well inside it:
#: the harness checks that tolerated skew does no harm, not that a broken clock is refused.
SKEW_RANGE_MS = (2_000, 12_000)
LOSS_RANGE_PERCENT = (5, 30)
DELAY_RANGE_MS = (20, 200)
FLAP_PERIOD_RANGE_MS = (500, 2_000)


class ScheduleError(ValueError):
    """Impossible schedule parameters (unknown kind, too few nodes, no time for any fault)."""


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """One fault: applied ``start_s`` after the load starts, healed ``hold_s`` later.

    ``nodes`` are the targets (1-based); ``others`` the far side of a cut (partitions,
    one-way); ``amount`` is ms of skew or delay, the loss percentage or the flap period;
    ``jitter`` ms of extra random delay (latency only).
    """

    index: int
    kind: str
    start_s: float
    hold_s: float
    nodes: tuple[int, ...]
    others: tuple[int, ...] = ()
    amount: int = 0
    jitter: int = 0

    @property
    def end_s(self) -> float:
        return self.start_s + self.hold_s

    def describe(self) -> str:
        """A few words for logs and the summary, e.g. ``split 1,2 | 3,4``."""
        targets = ",".join(map(str, self.nodes))
        if self.kind in (PARTITION, SPLIT, FLAP):
            text = f"{self.kind} {targets} | {','.join(map(str, self.others))}"
        elif self.kind == ONE_WAY:
            text = f"{self.kind} {targets} -> {','.join(map(str, self.others))}"
        else:
            text = f"{self.kind} node {targets}" if targets else self.kind
        if self.kind == SKEW:
            text += f" {self.amount:+d} ms"
        elif self.kind == LOSS:
            text += f" {self.amount}%"
        elif self.kind == LATENCY:
            text += f" {self.amount}±{self.jitter} ms"
        elif self.kind == FLAP:
            text += f" every {self.amount} ms"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "start_s": round(self.start_s, 3),
            "hold_s": round(self.hold_s, 3),
            "nodes": list(self.nodes),
            "others": list(self.others),
            "amount": self.amount,
            "jitter": self.jitter,
            "what": self.describe(),
        }


@dataclass(frozen=True, slots=True)
class Timing:
    """How long faults are held and how long the network is left alone between them (s)."""

    warmup_s: float = 8.0
    hold_s: tuple[float, float] = (3.0, 8.0)
    gap_s: tuple[float, float] = (4.0, 8.0)


def parse_kinds(text: str, available: Iterable[str] = ALL_KINDS) -> tuple[str, ...]:
    """``"kill,stop"`` or ``"all"`` -> kinds in :data:`ALL_KINDS` order; raises ScheduleError
    for a kind that does not exist. ``all`` means every kind in ``available``."""
    if text.strip() == "all":
        return tuple(k for k in ALL_KINDS if k in set(available))
    asked = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(asked) - set(ALL_KINDS))
    if unknown or not asked:
        raise ScheduleError(
            f"unknown fault kind(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(ALL_KINDS)} or all"
        )
    return tuple(k for k in ALL_KINDS if k in asked)


def build_schedule(
    seed: int,
    duration_s: float,
    kinds: tuple[str, ...],
    n: int,
    *,
    disk_node: int = 1,
    timing: Timing | None = None,
) -> list[FaultEvent]:
    """Events filling ``duration_s`` after ``timing.warmup_s``; each healed before it ends.

    ``disk_node`` is the node whose data directory can be filled (the only target of DISK).
    Raises :class:`ScheduleError` for fewer than 3 nodes, no kinds, or unknown kinds.
    """
    timing = timing or Timing()
    if n < 3:
        raise ScheduleError("a chaos run needs at least 3 nodes (one may fail, quorum stays)")
    if not kinds:
        raise ScheduleError("no fault kinds to schedule")
    unknown = set(kinds) - set(ALL_KINDS)
    if unknown:
        raise ScheduleError(f"unknown fault kind(s): {', '.join(sorted(unknown))}")
    rng = random.Random(seed)
    events: list[FaultEvent] = []
    queue: list[str] = []
    at = timing.warmup_s
    while True:
        hold = round(rng.uniform(*timing.hold_s), 3)
        if at + hold > duration_s:
            return events
        if not queue:
            queue = list(kinds)
            rng.shuffle(queue)
        events.append(_event(len(events) + 1, queue.pop(0), at, hold, n, disk_node, rng))
        at = round(at + hold + rng.uniform(*timing.gap_s), 3)


def _event(
    index: int, kind: str, at: float, hold: float, n: int, disk_node: int, rng: random.Random
) -> FaultEvent:
    everyone = list(range(1, n + 1))
    one = rng.choice(everyone)
    rest = tuple(i for i in everyone if i != one)
    if kind == SKEW:
        amount = rng.randint(*SKEW_RANGE_MS) * rng.choice((-1, 1))
        return FaultEvent(index, kind, at, hold, (one,), amount=amount)
    if kind in (PARTITION, ONE_WAY):
        return FaultEvent(index, kind, at, hold, (one,), rest)
    if kind == FLAP:
        period = rng.randint(*FLAP_PERIOD_RANGE_MS)
        return FaultEvent(index, kind, at, hold, (one,), rest, amount=period)
    if kind == SPLIT:
        shuffled = everyone[:]
        rng.shuffle(shuffled)
        half = sorted(shuffled[: n // 2])
        return FaultEvent(
            index, kind, at, hold, tuple(half), tuple(i for i in everyone if i not in half)
        )
    if kind == LOSS:
        return FaultEvent(index, kind, at, hold, (one,), amount=rng.randint(*LOSS_RANGE_PERCENT))
    if kind == LATENCY:
        delay = rng.randint(*DELAY_RANGE_MS)
        return FaultEvent(index, kind, at, hold, (), amount=delay, jitter=rng.randint(0, delay))
    if kind == DISK:
        return FaultEvent(index, kind, at, hold, (disk_node,))
    return FaultEvent(index, kind, at, hold, (one,))
