"""Quorum arithmetic and configuration checks."""

from __future__ import annotations

import pytest

from consensus.config import (
    ConsensusConfig,
    Timeouts,
    bft_quorum,
    majority_quorum,
    max_byzantine,
)
from consensus.errors import ConfigError


@pytest.mark.parametrize(
    ("n", "majority", "bft", "f"),
    [(1, 1, 1, 0), (3, 2, 3, 0), (4, 3, 3, 1), (5, 3, 4, 1), (7, 4, 5, 2), (10, 6, 7, 3)],
)
def test_quorum_sizes(n: int, majority: int, bft: int, f: int) -> None:
    assert majority_quorum(n) == majority
    assert bft_quorum(n) == bft
    assert max_byzantine(n) == f


@pytest.mark.parametrize("n", range(1, 30))
def test_bft_quorums_intersect_in_an_honest_node(n: int) -> None:
    cfg = ConsensusConfig.with_bft("c", n)
    f = max_byzantine(n)
    # any two quorums share 2q - n nodes; more than f of them means one is honest
    assert 2 * cfg.quorum - n >= f + 1
    assert cfg.tolerated_byzantine >= f
    # and the honest nodes alone form a quorum (liveness)
    assert n - f >= cfg.quorum


@pytest.mark.parametrize("n", range(2, 30))
def test_majority_quorum_tolerates_crashes_only(n: int) -> None:
    cfg = ConsensusConfig.with_majority("c", n)
    assert 2 * cfg.quorum - n >= 1
    assert cfg.tolerated_crashes == n - cfg.quorum
    if n % 2 == 0:
        assert cfg.tolerated_byzantine == 1
    else:
        assert cfg.tolerated_byzantine == 0


def test_bad_configs_raise() -> None:
    with pytest.raises(ConfigError):
        ConsensusConfig("c", 4, 2)  # two quorums of 2 need not meet
    with pytest.raises(ConfigError):
        ConsensusConfig("c", 4, 5)
    with pytest.raises(ConfigError):
        ConsensusConfig("", 4, 3)
    with pytest.raises(ConfigError):
        Timeouts(propose=0)


def test_timeouts_grow_with_the_round() -> None:
    t = Timeouts(propose=1.0, prepare=0.5, commit=0.5, increment=0.25)
    assert t.propose_timeout(0) == 1.0
    assert t.propose_timeout(4) == 2.0
    assert t.prepare_timeout(2) > t.prepare_timeout(1)


def test_preferred_claimant_rotates_over_everyone() -> None:
    cfg = ConsensusConfig.with_majority("c", 5)
    assert {cfg.preferred_claimant(3, r) for r in range(5)} == {1, 2, 3, 4, 5}
