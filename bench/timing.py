"""Timing helpers shared by the benchmarks: repeated runs summarized as median and p95."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Milliseconds over ``runs`` measured calls (after one unmeasured warm-up call)."""

    runs: int
    median_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(fn: Callable[[], object], runs: int, warmup: int = 1) -> Timing:
    """Call ``fn`` ``warmup`` times unmeasured, then ``runs`` times, each timed on its own."""
    if runs < 1:
        raise ValueError("runs must be positive")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    p95_index = min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))
    return Timing(
        runs=runs,
        median_ms=statistics.median(samples),
        p95_ms=samples[p95_index],
        mean_ms=statistics.fmean(samples),
        min_ms=samples[0],
    )
