"""The fault schedule is a pure function of its seed and parameters."""

from __future__ import annotations

import itertools

import pytest

from testnet.chaos.schedule import (
    ALL_KINDS,
    DISK,
    LATENCY,
    ONE_WAY,
    SKEW,
    SPLIT,
    ScheduleError,
    Timing,
    build_schedule,
    parse_kinds,
)


def test_same_seed_same_schedule_and_another_seed_another() -> None:
    first = build_schedule(7, 600, ALL_KINDS, 4)
    assert first == build_schedule(7, 600, ALL_KINDS, 4)
    assert first != build_schedule(8, 600, ALL_KINDS, 4)


def test_every_kind_comes_once_before_any_comes_back() -> None:
    events = build_schedule(3, 2_000, ALL_KINDS, 4)
    assert len(events) > 2 * len(ALL_KINDS)
    first_round = [e.kind for e in events[: len(ALL_KINDS)]]
    assert sorted(first_round) == sorted(ALL_KINDS)


def test_events_do_not_overlap_and_end_within_the_duration() -> None:
    timing = Timing(warmup_s=5, hold_s=(2, 4), gap_s=(1, 3))
    events = build_schedule(11, 300, ALL_KINDS, 5, timing=timing)
    assert events[0].start_s >= 5
    for before, after in itertools.pairwise(events):
        assert after.start_s >= before.end_s + 1
    assert events[-1].end_s <= 300
    assert [e.index for e in events] == list(range(1, len(events) + 1))


def test_targets_fit_the_kind() -> None:
    events = build_schedule(5, 3_000, ALL_KINDS, 4, disk_node=3)
    for event in events:
        assert set(event.nodes) | set(event.others) <= {1, 2, 3, 4}
        assert not set(event.nodes) & set(event.others)
        if event.kind == SPLIT:
            assert len(event.nodes) == 2
            assert len(event.others) == 2
        if event.kind == ONE_WAY:
            assert len(event.nodes) == 1
            assert len(event.others) == 3
        if event.kind == DISK:
            assert event.nodes == (3,)
        if event.kind == SKEW:
            assert 2_000 <= abs(event.amount) <= 12_000
        if event.kind == LATENCY:
            assert event.nodes == ()
            assert 0 <= event.jitter <= event.amount


def test_a_run_too_short_for_a_fault_has_none() -> None:
    assert build_schedule(1, 5, ALL_KINDS, 4) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 2}, "at least 3"), ({"kinds": ()}, "no fault kinds"), ({"kinds": ("nap",)}, "nap")],
)
def test_impossible_parameters_are_refused(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"seed": 1, "duration_s": 60, "kinds": ("kill",), "n": 4}
    arguments.update(kwargs)
    with pytest.raises(ScheduleError, match=message):
        build_schedule(**arguments)  # type: ignore[arg-type]


def test_kinds_are_parsed_in_a_fixed_order() -> None:
    assert parse_kinds("stop, kill") == ("kill", "stop")
    assert parse_kinds("all", available=("term", "kill")) == ("kill", "term")
    with pytest.raises(ScheduleError, match="sigkill"):
        parse_kinds("sigkill")
    with pytest.raises(ScheduleError, match="none given"):
        parse_kinds(" , ")
