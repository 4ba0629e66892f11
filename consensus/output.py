"""What a consensus node hands back to its runtime after each input."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from consensus.evidence import Evidence
from consensus.messages import CommittedBlock, Message


class TimerKind(IntEnum):
    """Timers a node asks its runtime to set."""

    PROPOSE = 1
    PREPARE = 2
    COMMIT = 3
    BATCH = 4
    STATUS = 5
    CLAIM = 6


@dataclass(frozen=True, slots=True)
class Timer:
    """Deliver :meth:`ConsensusNode.on_timer` with this value at ``deadline`` (same clock as
    the ``now`` passed in). Timers are never cancelled; a stale one is ignored."""

    kind: TimerKind
    height: int
    round: int
    deadline: float


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` to validator ``to``, or to every other validator when ``to`` is None."""

    to: int | None
    message: Message


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One step of a node's progress, kept for debugging and for simulator reports."""

    time: float
    node: int
    height: int
    round: int
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        tail = f" {self.detail}" if self.detail else ""
        return f"{self.time:9.3f} n{self.node} h{self.height} r{self.round} {self.kind}{tail}"


@dataclass(slots=True)
class Output:
    """Effects of one input: messages, timers, decided blocks, evidence and trace events."""

    sends: list[Send] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    commits: list[CommittedBlock] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    trace: list[TraceEvent] = field(default_factory=list)
