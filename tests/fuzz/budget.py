"""How many inputs each fuzz target gets, how they are counted, and the memory they cost.

The whole fuzz suite shares one budget of inputs, ``IOMTSHARE_FUZZ_EXAMPLES`` (default
100,000), split between targets by weight; ``IOMTSHARE_FUZZ_SEED`` picks another reproducible
stream of inputs for a longer or different run. Every target runs its inputs through
:class:`Tally`, which counts what was tried and samples the process's resident memory; the
conftest of this package prints one row per target at the end of the session.

A longer run, on inputs the default run never draws::

    IOMTSHARE_FUZZ_EXAMPLES=1000000 IOMTSHARE_FUZZ_SEED=1 .venv/bin/pytest tests/fuzz --timeout 0
"""

from __future__ import annotations

import math
import os
import resource
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, seed, settings

BUDGET_ENV = "IOMTSHARE_FUZZ_EXAMPLES"
SEED_ENV = "IOMTSHARE_FUZZ_SEED"
DEFAULT_BUDGET = 100_000
#: Resident memory is sampled every this many inputs (reading /proc costs ~20 us).
RSS_EVERY = 64
#: Growth of resident memory a target may cause. Hypothesis keeps some bookkeeping per
#: example, so a long run grows a little; a decoder that allocated what a hostile length
#: prefix asks for (up to 64 MiB per field) would overshoot at once.
MAX_RSS_GROWTH_BYTES = 192 * 1024 * 1024
#: Most Hypothesis examples one target runs (see :func:`plan`).
MAX_EXAMPLES = 2_000

#: How the budget is split: decoders alone, HTTP routes, and a node's consensus link.
DECODER_SHARE = 0.80
HTTP_SHARE = 0.15
P2P_SHARE = 0.05

F = TypeVar("F", bound=Callable[..., Any])


def budget() -> int:
    """The total number of inputs for the fuzz suite (``IOMTSHARE_FUZZ_EXAMPLES``)."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{BUDGET_ENV} must be a positive integer, got {raw!r}")
    return int(raw)


def share(weight: float) -> int:
    """A target's number of inputs: ``weight`` (a fraction of the whole suite) of the budget."""
    return max(1, round(budget() * weight))


def plan(inputs: int, least_batch: int) -> tuple[int, int]:
    """``(examples, inputs per example)`` for a target of ``inputs`` inputs whose examples
    each yield at least ``least_batch``. Hypothesis keeps a few KiB per example it ran, so past
    :data:`MAX_EXAMPLES` a long run gives each example more inputs instead of growing."""
    examples = min(MAX_EXAMPLES, max(1, math.ceil(inputs / least_batch)))
    return examples, math.ceil(inputs / examples)


def fuzz_settings(name: str, examples: int) -> Callable[[F], F]:
    """Hypothesis settings for target ``name``: ``examples`` inputs, no deadline, no example
    database, and a seed fixed by the target's name (and ``IOMTSHARE_FUZZ_SEED``), so a run
    is reproducible and every target draws its own stream."""
    salt = os.environ.get(SEED_ENV, "")
    chosen = seed(zlib.crc32(f"{salt}/{name}".encode()))
    configured = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )

    def apply(test: F) -> F:
        result: F = chosen(configured(test))
        return result

    return apply


def rss_bytes() -> int:
    """The resident memory of this process now (peak so far where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Tally:
    """What one target tried: inputs, how many were refused, memory and time."""

    name: str
    inputs: int = 0
    refused: int = 0
    rss_start: int = field(default_factory=rss_bytes)
    rss_peak: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.rss_peak = self.rss_start

    def tried(self, refused: bool = False) -> None:
        """Count one input (``refused``: the target turned it away with its typed error)."""
        self.inputs += 1
        self.refused += refused
        if self.inputs % RSS_EVERY == 0:
            self.rss_peak = max(self.rss_peak, rss_bytes())

    def finish(self) -> None:
        """Take the last memory sample and the time; raise if memory grew past the bound."""
        self.rss_peak = max(self.rss_peak, rss_bytes())
        self.seconds = time.perf_counter() - self.started
        growth = self.rss_peak - self.rss_start
        if growth > MAX_RSS_GROWTH_BYTES:
            raise AssertionError(
                f"{self.name}: resident memory grew by {growth / 2**20:.0f} MiB over "
                f"{self.inputs} inputs (bound {MAX_RSS_GROWTH_BYTES / 2**20:.0f} MiB)"
            )

    @property
    def growth_mib(self) -> float:
        return (self.rss_peak - self.rss_start) / 2**20


#: Every target run in this session, in order; the conftest prints them.
TALLIES: list[Tally] = []


def start(name: str) -> Tally:
    """A new tally for target ``name``, reported at the end of the session."""
    tally = Tally(name)
    TALLIES.append(tally)
    return tally
