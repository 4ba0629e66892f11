"""CPU used by processes and by the whole machine, from Linux's ``/proc``.

A benchmark samples the counters before and after a window (:func:`sample_cpu`) and turns the
difference into shares of one core (:func:`cpu_shares`); the parsers take the files' text, so
they are tested without a ``/proc``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def process_cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks, all threads) from the text of ``/proc/<pid>/stat``."""
    # Field 2, the command name, is in parentheses and may itself hold spaces or ')'.
    try:
        fields = stat[stat.rindex(")") + 2 :].split()
        return int(fields[11]) + int(fields[12])  # fields 14 and 15 of the line
    except (ValueError, IndexError) as exc:
        raise ValueError(f"not a /proc/<pid>/stat line: {stat[:60]!r}") from exc


def machine_busy_ticks(stat: str) -> int:
    """Busy clock ticks of all CPUs together from the text of ``/proc/stat``."""
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            # user nice system idle iowait irq softirq steal; guest time is already in user.
            values = [int(v) for v in fields[1:9]]
            if len(values) < 4:
                break
            return sum(values) - sum(values[3:5])
    raise ValueError("no aggregate cpu line in /proc/stat")


@dataclass(frozen=True, slots=True)
class CpuSample:
    """CPU ticks used so far by each named process (None: could not read) and by the machine."""

    at: float
    processes: dict[str, int | None]
    machine: int | None


def sample_cpu(pids: Mapping[str, int], proc: Path = Path("/proc")) -> CpuSample:
    """Read the CPU ticks of ``pids`` and of the whole machine now."""
    processes: dict[str, int | None] = {}
    for name, pid in pids.items():
        try:
            processes[name] = process_cpu_ticks((proc / str(pid) / "stat").read_text())
        except (OSError, ValueError):
            processes[name] = None  # exited, or no /proc here: reported as unknown
    try:
        machine: int | None = machine_busy_ticks((proc / "stat").read_text())
    except (OSError, ValueError):
        machine = None
    return CpuSample(time.perf_counter(), processes, machine)


def cpu_shares(before: CpuSample, after: CpuSample, ticks_per_s: float) -> dict[str, float | None]:
    """Share of one core (1.0 = one core busy all the time) each process used between the
    samples, plus ``other``: the machine's busy time not used by any of them."""
    wall = after.at - before.at
    if wall <= 0:
        raise ValueError("samples out of order")
    shares: dict[str, float | None] = {}
    for name, start in before.processes.items():
        end = after.processes.get(name)
        shares[name] = None if start is None or end is None else (end - start) / ticks_per_s / wall
    if before.machine is None or after.machine is None or None in shares.values():
        shares["other"] = None
    else:
        machine = (after.machine - before.machine) / ticks_per_s / wall
        shares["other"] = max(0.0, machine - sum(v for v in shares.values() if v is not None))
    return shares


def clock_ticks_per_s() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100.0  # Linux's USER_HZ nearly everywhere
