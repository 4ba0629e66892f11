"""Open-loop sustained load: requests arrive on a fixed schedule whatever the system answers,
one rate after another, until latency or failures pass their limits.

A closed loop (c clients, each sending its next request once the previous one returns) slows
down with the system it measures, so its latencies hide the queue a real arrival rate builds
(coordinated omission). Here every arrival has a due time fixed before the step starts (every
1/rate s, or Poisson with a seed); worker threads run the requests, and a latency counts from
the due time, so a request that waited for a worker or for a lagging scheduler is charged for
it. A request not done within ``request_timeout`` s of its due time fails.

Each rate runs a warm-up (not counted), then a measured window of ``duration`` s. Reported per
rate (:class:`Step`): offered and committed requests/s, latency p50/p95/p99 of the successful
requests due in the window, failures, the lag between due time and actual start (the load
generator's own health), and the CPU used by each node process, by this process (the load
generator, whose client signs requests and decrypts results) and by everything else on the
machine, read from ``/proc`` at the window's start and end (:mod:`bench.procstat`). The knee
is the highest rate whose step passed (p99 under the limit, failures within the allowed
fraction).

Nothing here knows the client library: the caller passes ``request(deadline)``.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.procstat import clock_ticks_per_s, cpu_shares, sample_cpu
from bench.report import Progress, format_table, quiet

#: One request: called with its deadline (a ``time.perf_counter()`` value); raises if it failed.
Request = Callable[[float], None]

#: The name the load generator (this process) has among the measured processes.
GENERATOR = "bench"

#: Time between building the schedule and the first due time, so the first arrivals are not
#: already late when the loop starts.
LEAD_S = 0.1

#: Lag (due time -> start) above which a step's figures say more about this process than about
#: the system measured.
LAG_WARNING_MS = 50.0


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What a sustained-load run does; ``rates`` are tried in increasing order."""

    rates: tuple[int, ...]
    duration_s: float = 30.0
    warmup_s: float = 5.0
    request_timeout_s: float = 10.0
    p99_limit_ms: float = 1000.0
    max_failure_fraction: float = 0.0
    poisson: bool = False
    seed: int = 1
    max_in_flight: int = 1000

    def __post_init__(self) -> None:
        if not self.rates or min(self.rates) <= 0:
            raise ValueError("rates must be positive and at least one")
        if list(self.rates) != sorted(set(self.rates)):
            raise ValueError("rates must increase")
        if self.duration_s <= 0 or self.warmup_s < 0 or self.request_timeout_s <= 0:
            raise ValueError("duration and request timeout must be positive, warm-up >= 0")
        if not 0 <= self.max_failure_fraction < 1:
            raise ValueError("the allowed failure fraction must be within [0, 1)")
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be positive")

    def to_json(self) -> dict[str, Any]:
        return {
            "rates": list(self.rates),
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "request_timeout_s": self.request_timeout_s,
            "p99_limit_ms": self.p99_limit_ms,
            "max_failure_fraction": self.max_failure_fraction,
            "arrivals": "poisson" if self.poisson else "fixed",
            "seed": self.seed,
            "max_in_flight": self.max_in_flight,
        }


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank; raises ValueError for no samples."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    # The epsilon keeps 0.95 * 100 from rounding up to the 96th sample.
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered) - 1e-9) - 1))
    return ordered[index]


def arrival_offsets(
    rate: float, duration: float, *, poisson: bool = False, seed: int = 0
) -> list[float]:
    """Due times (seconds from the start) of the arrivals in ``[0, duration)`` at ``rate``/s:
    evenly spaced, or a Poisson process drawn from ``seed``."""
    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be positive")
    if not poisson:
        # The epsilon keeps 0.1 * 30 = 2.9999... from losing the last arrival.
        return [i / rate for i in range(math.ceil(rate * duration - 1e-9))]
    rng = random.Random(seed)
    offsets = []
    at = rng.expovariate(rate)
    while at < duration:
        offsets.append(at)
        at += rng.expovariate(rate)
    return offsets


# -- one rate -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request: due, started and finished (perf_counter seconds), ``error`` if it failed."""

    due: float
    started: float
    finished: float
    error: str | None

    @property
    def latency_ms(self) -> float:
        return (self.finished - self.due) * 1e3


def attempt(request: Request, due: float, timeout: float) -> Outcome:
    """Run ``request`` due at ``due``; a failure of any kind is recorded, not raised, since one
    failed request is a figure of the step, not the end of the benchmark."""
    started = time.perf_counter()
    deadline = due + timeout
    if started >= deadline:
        return Outcome(due, started, started, "NotStarted: no free worker before its deadline")
    try:
        request(deadline)
    except Exception as exc:  # any kind: counted by type (and API code) in the step's report
        code = getattr(exc, "code", None)
        kind = type(exc).__name__ + (f" {code}" if isinstance(code, str) else "")
        return Outcome(due, started, time.perf_counter(), f"{kind}: {exc}")
    finished = time.perf_counter()
    if finished > deadline:
        return Outcome(due, started, finished, f"Timeout: done after {timeout:g} s")
    return Outcome(due, started, finished, None)


@dataclass(frozen=True, slots=True)
class Step:
    """The figures of one rate's measured window."""

    rate: float
    duration_s: float
    requests: int
    failures: int
    warmup_failures: int
    errors: dict[str, int]
    offered_per_s: float
    committed_per_s: float
    latency_ms: dict[str, float | None]
    lag_p99_ms: float | None
    cpu: dict[str, float | None]
    generator_cpu_ms_per_request: float | None

    def passes(self, p99_limit_ms: float, max_failure_fraction: float) -> bool:
        """p99 under the limit and failures within the allowed fraction of the requests."""
        p99 = self.latency_ms["p99"]
        return (
            self.requests > 0
            and p99 is not None
            and p99 < p99_limit_ms
            and self.failures <= max_failure_fraction * self.requests
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "duration_s": self.duration_s,
            "requests": self.requests,
            "failures": self.failures,
            "warmup_failures": self.warmup_failures,
            "errors": self.errors,
            "offered_per_s": self.offered_per_s,
            "committed_per_s": self.committed_per_s,
            "latency_ms": self.latency_ms,
            "lag_p99_ms": self.lag_p99_ms,
            "cpu_share_of_one_core": self.cpu,
            "generator_cpu_ms_per_request": self.generator_cpu_ms_per_request,
        }


def summarize(
    rate: float,
    outcomes: Sequence[Outcome],
    window: tuple[float, float],
    cpu: dict[str, float | None],
) -> Step:
    """The figures of the requests due within ``window`` (perf_counter start, end).

    Committed requests/s counts the successes that *finished* inside the window, whenever they
    were due, so a queue that grows shows up as a committed rate below the offered one.
    """
    start, end = window
    duration = end - start
    measured = [o for o in outcomes if start <= o.due < end]
    ok = [o.latency_ms for o in measured if o.error is None]
    failed = [o for o in measured if o.error is not None]
    committed = sum(1 for o in outcomes if o.error is None and start <= o.finished < end)
    errors = Counter(o.error.split(":", 1)[0] for o in failed if o.error is not None)
    lags = [(o.started - o.due) * 1e3 for o in measured]
    generator = cpu.get(GENERATOR)
    return Step(
        rate=rate,
        duration_s=duration,
        requests=len(measured),
        failures=len(failed),
        warmup_failures=sum(1 for o in outcomes if o.due < start and o.error is not None),
        errors=dict(errors),
        offered_per_s=len(measured) / duration,
        committed_per_s=committed / duration,
        latency_ms={
            name: percentile(ok, q) if ok else None
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
        },
        lag_p99_ms=percentile(lags, 0.99) if lags else None,
        cpu=cpu,
        generator_cpu_ms_per_request=(
            generator * duration * 1e3 / len(measured) if generator is not None and measured
            else None
        ),
    )


def _sleep_until(at: float) -> None:
    delay = at - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def run_step(
    request: Request, rate: float, plan: LoadPlan, pids: Mapping[str, int], seed: int = 0
) -> Step:
    """Offer ``rate`` requests/s for the plan's warm-up plus duration; wait for every request
    to end (each is bounded by the request timeout) and summarize the measured window."""
    offsets = arrival_offsets(rate, plan.warmup_s + plan.duration_s,
                              poisson=plan.poisson, seed=seed)
    measured = {**pids, GENERATOR: os.getpid()}
    # Enough workers for every request that may be in flight at once (rate x timeout).
    workers = max(1, min(plan.max_in_flight, math.ceil(rate * plan.request_timeout_s) + 1))
    futures = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        t0 = time.perf_counter() + LEAD_S
        start, end = t0 + plan.warmup_s, t0 + plan.warmup_s + plan.duration_s
        before = None
        for offset in offsets:
            due = t0 + offset
            if before is None and due >= start:
                _sleep_until(start)
                before = sample_cpu(measured)
            _sleep_until(due)
            futures.append(pool.submit(attempt, request, due, plan.request_timeout_s))
        if before is None:
            _sleep_until(start)
            before = sample_cpu(measured)
        _sleep_until(end)
        after = sample_cpu(measured)
        outcomes = [future.result() for future in futures]
    shares = cpu_shares(before, after, clock_ticks_per_s())
    return summarize(rate, outcomes, (start, end), shares)


def sweep(
    request: Request,
    plan: LoadPlan,
    pids: Mapping[str, int],
    progress: Progress = quiet,
) -> list[Step]:
    """:func:`run_step` at each of the plan's rates, stopping after the first that fails."""
    steps = []
    for i, rate in enumerate(plan.rates):
        progress(f"sustained: {rate} req/s for {plan.warmup_s:g} s warm-up + "
                 f"{plan.duration_s:g} s")
        step = run_step(request, rate, plan, pids, seed=plan.seed + i)
        steps.append(step)
        if not step.passes(plan.p99_limit_ms, plan.max_failure_fraction):
            p99 = step.latency_ms["p99"]
            progress(f"sustained: stopping at {rate} req/s (p99 "
                     f"{'-' if p99 is None else f'{p99:.0f}'} ms, {step.failures} failed)")
            break
    return steps


def knee(steps: Sequence[Step], p99_limit_ms: float, max_failure_fraction: float) -> Step | None:
    """The highest-rate step that passed before the first one that did not, or None."""
    best = None
    for step in sorted(steps, key=lambda s: s.rate):
        if not step.passes(p99_limit_ms, max_failure_fraction):
            break
        best = step
    return best


def payload(steps: Sequence[Step], plan: LoadPlan) -> dict[str, Any]:
    """The JSON figures of a sweep."""
    found = knee(steps, plan.p99_limit_ms, plan.max_failure_fraction)
    return {
        "plan": plan.to_json(),
        "steps": [step.to_json() for step in steps],
        "knee": None if found is None else {
            "rate": found.rate,
            "committed_per_s": found.committed_per_s,
            "p99_ms": found.latency_ms["p99"],
            # Every rate passed: the true knee lies above the rates tried.
            "all_rates_passed": len(steps) == len(plan.rates) and found is steps[-1],
        },
    }


def table(figures: dict[str, Any]) -> str:
    """The sweep of :func:`payload` as a table, the knee and any warning about the generator."""
    plan, steps = figures["plan"], figures["steps"]
    names = list(steps[0]["cpu_share_of_one_core"]) if steps else []

    def pct(value: float | None) -> float | None:
        return None if value is None else value * 100

    rows = [
        [s["rate"], s["offered_per_s"], s["committed_per_s"], s["latency_ms"]["p50"],
         s["latency_ms"]["p95"], s["latency_ms"]["p99"], s["failures"], s["lag_p99_ms"],
         *(pct(s["cpu_share_of_one_core"][n]) for n in names),
         s["generator_cpu_ms_per_request"]]
        for s in steps
    ]
    title = (f"sustained load, open loop ({plan['arrivals']} arrivals, {plan['warmup_s']:g} s "
             f"warm-up + {plan['duration_s']:g} s per rate; latency in ms from the due time; "
             f"CPU in % of one core, {os.cpu_count()} cores; {GENERATOR} = this load generator)")
    lines = [format_table(
        title,
        ["rate/s", "offered/s", "committed/s", "p50", "p95", "p99", "failed", "lag p99",
         *(f"{n} CPU" for n in names), f"{GENERATOR} ms/req"],
        rows,
    )]
    found = figures["knee"]
    limit = f"p99 < {plan['p99_limit_ms']:g} ms"
    if found is None:
        lines.append(f"knee: none ({limit} not met at {plan['rates'][0]} req/s)")
    else:
        more = " (every rate passed: the knee is higher)" if found["all_rates_passed"] else ""
        lines.append(f"knee: {found['rate']} req/s offered, {found['committed_per_s']:.1f} "
                     f"committed/s, with {limit}{more}")
    late = [s["rate"] for s in steps if (s["lag_p99_ms"] or 0) > LAG_WARNING_MS]
    if late:
        lines.append(f"warning: the load generator started requests over {LAG_WARNING_MS:g} ms "
                     f"late (p99) at {late} req/s; it may be the bottleneck there")
    for s in steps:
        if s["errors"]:
            lines.append(f"failures at {s['rate']} req/s: {s['errors']}")
    return "\n".join(lines)
