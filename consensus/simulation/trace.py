"""Readable views of a simulated run: the raw trace and a per-height summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from consensus.output import TraceEvent
from consensus.simulation.fake import FakeLedger
from consensus.simulation.scenario import Scenario

_SUMMARY_KINDS = ("claim", "elect-vote", "lock", "commit", "synced", "evidence")


def format_trace(events: Sequence[TraceEvent], limit: int | None = 400) -> str:
    """One line per event in time order; the last ``limit`` lines if there are more."""
    ordered = sorted(events, key=lambda e: e.time)
    if limit is not None and len(ordered) > limit:
        skipped = len(ordered) - limit
        ordered = ordered[-limit:]
        return f"... {skipped} earlier events\n" + "\n".join(str(e) for e in ordered)
    return "\n".join(str(e) for e in ordered)


def run_summary(
    sc: Scenario,
    trace: Sequence[TraceEvent],
    ledgers: Mapping[int, FakeLedger],
    *,
    finished: bool,
    end_time: float,
    messages: int,
) -> str:
    """Who claimed, who voted for whom, locks and commits per height, with simulated times."""
    lines = [
        f"scenario {sc.label or sc.seed}: n={sc.n} q={sc.quorum} byzantine="
        f"{sorted(sc.byzantine)} finished={finished} end={end_time:.3f}s "
        f"messages={messages}"
    ]
    by_height: dict[int, list[TraceEvent]] = defaultdict(list)
    for event in trace:
        if event.kind in _SUMMARY_KINDS or event.kind == "crash":
            by_height[event.height].append(event)
    for height in sorted(by_height):
        lines.append(f"height {height}:")
        for event in sorted(by_height[height], key=lambda e: e.time):
            lines.append(f"  {event}")
    for i in sorted(ledgers):
        chain = " ".join(b.block_hash.hex()[:8] for b in ledgers[i].blocks)
        lines.append(f"ledger n{i}: {chain}")
    return "\n".join(lines)
