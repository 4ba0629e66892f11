"""Seeded simulated networks: the invariants hold over hundreds of runs and every fault mix.

Each parameter runs a batch of seeds (one run is a few milliseconds with fake crypto). On a
failure the message carries the run's summary (claims, leaders, locks, commits with simulated
times) and the tail of its trace; rerun one with ``random_scenario(seed, n, mix)``.
"""

from __future__ import annotations

import pytest

from consensus.simulation.invariants import check_all
from consensus.simulation.scenario import MIXES, random_scenario
from consensus.simulation.simulator import SimResult, run

SEEDS_PER_CASE = 200  # x 7 mixes x 3 sizes = 4,200 seeded runs


def _explain(result: SimResult, problems: list[str]) -> str:
    return "\n".join([*problems[:10], result.summary(), result.format_trace(limit=80)])


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("n", [4, 5, 7])
def test_invariants_hold_over_seeds(n: int, mix: str) -> None:
    finished = 0
    for seed in range(SEEDS_PER_CASE):
        result = run(random_scenario(seed, n, mix))
        problems = check_all(result)
        assert not problems, _explain(result, problems)
        finished += result.finished
    assert finished == SEEDS_PER_CASE


@pytest.mark.parametrize("mix", ["byzantine-shares", "byzantine-equivocation"])
def test_byzantine_runs_leave_evidence_against_the_faulty_only(mix: str) -> None:
    accused: set[int] = set()
    faulty: set[int] = set()
    for seed in range(20):
        scenario = random_scenario(seed, 4, mix)
        result = run(scenario)
        faulty |= set(scenario.byzantine)
        for i in scenario.honest():
            accused |= {e.offender for e in result.evidence[i]}
    assert accused  # the misbehaviour was noticed...
    assert accused <= faulty  # ...and pinned on the right nodes


def test_runs_are_deterministic() -> None:
    scenario = random_scenario(11, 5, "lossy")
    first, second = run(scenario), run(scenario)
    assert [str(e) for e in first.trace] == [str(e) for e in second.trace]
    assert first.messages == second.messages
    hashes = {i: [b.block_hash for b in ledger.blocks] for i, ledger in first.ledgers.items()}
    assert hashes == {i: [b.block_hash for b in lg.blocks] for i, lg in second.ledgers.items()}


def test_summary_names_claims_leaders_and_commit_times() -> None:
    result = run(random_scenario(3, 4, "clean"))
    text = result.summary()
    assert " claim " in text
    assert " elect-vote for n" in text
    assert " commit " in text
    assert result.commit_times
    assert all(t <= result.end_time for t in result.commit_times.values())
