"""bench.load: the open-loop schedule, one step's bookkeeping, the sweep's stop rule and knee."""

from __future__ import annotations

import threading
import time

import pytest

from bench.load import (
    GENERATOR,
    LoadPlan,
    Outcome,
    Step,
    arrival_offsets,
    attempt,
    knee,
    payload,
    percentile,
    run_step,
    summarize,
    sweep,
    table,
)


def test_fixed_arrivals_are_evenly_spaced_and_cover_the_duration() -> None:
    assert arrival_offsets(4, 1) == [0.0, 0.25, 0.5, 0.75]
    assert len(arrival_offsets(10, 30)) == 300
    assert len(arrival_offsets(0.1, 30)) == 3  # 0, 10, 20 s: float error must not drop one


def test_poisson_arrivals_are_reproducible_from_their_seed() -> None:
    first = arrival_offsets(50, 20, poisson=True, seed=7)
    assert first == arrival_offsets(50, 20, poisson=True, seed=7)
    assert first != arrival_offsets(50, 20, poisson=True, seed=8)
    assert first == sorted(first)
    assert first[0] > 0
    assert first[-1] < 20
    assert 800 < len(first) < 1200  # 1,000 expected; this is over 6 standard deviations wide


def test_arrivals_reject_a_rate_or_duration_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        arrival_offsets(0, 1)
    with pytest.raises(ValueError, match="must be positive"):
        arrival_offsets(5, 0)


def test_percentile_is_the_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.95) == 95.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 1.0) == 100.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_the_plan_refuses_what_cannot_be_run() -> None:
    for bad, reason in (
        ({"rates": ()}, "rates"),
        ({"rates": (0, 10)}, "rates"),
        ({"rates": (20, 10)}, "rates must increase"),
        ({"rates": (10,), "duration_s": 0}, "duration"),
        ({"rates": (10,), "warmup_s": -1}, "warm-up"),
        ({"rates": (10,), "max_failure_fraction": 1.0}, "failure fraction"),
        ({"rates": (10,), "max_in_flight": 0}, "max_in_flight"),
    ):
        with pytest.raises(ValueError, match=reason):
            LoadPlan(**bad)  # type: ignore[arg-type]


def _outcome(due: float, latency_s: float, error: str | None = None) -> Outcome:
    return Outcome(due, due, due + latency_s, error)


def test_summarize_counts_only_the_window_and_charges_latency_from_the_due_time() -> None:
    outcomes = [
        _outcome(0.5, 2.0, "WaitTimeout: slow"),  # warm-up: not a figure, but counted apart
        _outcome(0.9, 0.2),  # due in the warm-up, finished in the window: committed there
        # Started 0.3 s late: the wait counts in its latency.
        *[Outcome(1.0 + i / 10, 1.3 + i / 10, 1.35 + i / 10, None) for i in range(10)],
        _outcome(1.95, 0.01, "NodeError: refused"),
        _outcome(2.5, 0.1),  # after the window
    ]
    step = summarize(10, outcomes, (1.0, 2.0), {GENERATOR: 0.5, "other": 0.1})
    assert step.requests == 11
    assert step.failures == 1
    assert step.errors == {"NodeError": 1}
    assert step.warmup_failures == 1
    assert step.offered_per_s == 11.0
    # The one due in the warm-up, plus the 7 of the ten that finished before the window closed.
    assert step.committed_per_s == 8.0
    assert step.latency_ms["p50"] == pytest.approx(350.0)
    assert step.lag_p99_ms == pytest.approx(300.0)
    assert step.generator_cpu_ms_per_request == pytest.approx(500 / 11)


def _step(rate: int, p99_s: float, failures: int = 0) -> Step:
    outcomes = [_outcome(i / rate, p99_s) for i in range(rate)]
    outcomes += [_outcome(0.5, 0.0, "X: failed")] * failures
    return summarize(rate, outcomes, (0.0, 1.0), {})


def test_a_step_passes_below_the_p99_limit_and_within_the_failure_fraction() -> None:
    assert _step(10, 0.9).passes(1000, 0.0)
    assert not _step(10, 1.0).passes(1000, 0.0)
    assert not _step(10, 0.1, failures=1).passes(1000, 0.0)
    assert _step(10, 0.1, failures=1).passes(1000, 0.1)
    assert not summarize(10, [], (0.0, 1.0), {}).passes(1000, 0.5)


def test_the_knee_is_the_last_passing_rate_before_the_first_failure() -> None:
    steps = [_step(10, 0.1), _step(20, 0.5), _step(40, 1.5), _step(80, 0.2)]
    found = knee(steps, 1000, 0.0)
    assert found is not None
    assert found.rate == 20
    assert knee([_step(10, 2.0)], 1000, 0.0) is None


def test_attempt_records_a_late_start_an_error_and_an_overrun() -> None:
    def fine(deadline: float) -> None:
        pass

    def broken(deadline: float) -> None:
        raise ConnectionError("refused")

    def overruns(deadline: float) -> None:
        while time.perf_counter() <= deadline:
            pass

    late = attempt(fine, time.perf_counter() - 5, timeout=1)
    assert late.error is not None
    assert late.error.startswith("NotStarted")
    failed = attempt(broken, time.perf_counter(), timeout=60)
    assert failed.error == "ConnectionError: refused"
    over = attempt(overruns, time.perf_counter() - 0.99, timeout=1)
    assert over.error is not None
    assert over.error.startswith("Timeout")
    assert attempt(fine, time.perf_counter(), timeout=60).error is None


def test_a_step_sends_every_scheduled_request_and_reads_this_process_cpu() -> None:
    calls: list[float] = []
    lock = threading.Lock()

    def record(deadline: float) -> None:
        with lock:
            calls.append(deadline)

    plan = LoadPlan(rates=(32,), duration_s=0.5, warmup_s=0.25, request_timeout_s=30)
    step = run_step(record, 32, plan, pids={})
    assert len(calls) == 24  # 0.75 s at 32/s
    assert step.requests == 16
    assert step.offered_per_s == 32.0
    assert step.failures == 0
    assert step.cpu[GENERATOR] is not None
    assert step.cpu[GENERATOR] >= 0
    assert set(step.cpu) == {GENERATOR, "other"}


def test_arrivals_do_not_wait_for_earlier_requests_to_finish() -> None:
    # Every request blocks until all 8 have started: a closed loop would never get there.
    started = 0
    lock = threading.Lock()
    everyone = threading.Event()

    def blocks(deadline: float) -> None:
        nonlocal started
        with lock:
            started += 1
            if started == 8:
                everyone.set()
        if not everyone.wait(timeout=30):
            raise TimeoutError("the later arrivals were never sent")

    plan = LoadPlan(rates=(32,), duration_s=0.25, warmup_s=0, request_timeout_s=60)
    step = run_step(blocks, 32, plan, pids={})
    assert step.requests == 8
    assert step.failures == 0


def test_the_sweep_stops_at_the_first_failing_rate() -> None:
    def refuse(deadline: float) -> None:
        raise RuntimeError("no")

    plan = LoadPlan(rates=(8, 16), duration_s=0.25, warmup_s=0, request_timeout_s=30)
    steps = sweep(refuse, plan, pids={})
    assert [s.rate for s in steps] == [8]
    figures = payload(steps, plan)
    assert figures["knee"] is None
    assert "knee: none" in table(figures)
    assert "RuntimeError" in table(figures)


def test_when_every_rate_passes_the_report_says_the_knee_is_higher() -> None:
    plan = LoadPlan(rates=(8, 16), duration_s=0.25, warmup_s=0, request_timeout_s=30,
                    p99_limit_ms=600_000)
    steps = sweep(lambda deadline: None, plan, pids={})
    figures = payload(steps, plan)
    assert [s["rate"] for s in figures["steps"]] == [8, 16]
    assert figures["knee"]["rate"] == 16
    assert figures["knee"]["all_rates_passed"]
    assert "the knee is higher" in table(figures)
