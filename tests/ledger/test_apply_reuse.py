"""Applying a block this ledger already validated reuses that outcome, and only that one."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.errors import InvalidBlock
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import MemberRole


def test_validated_block_applies_with_the_same_result(fx: ChainFixture, ledger: Ledger) -> None:
    block = fx.next_block(ledger, [fx.put_record("alice", "r2")])
    ledger.validate(block)
    head = ledger.apply(block, fx.commit_qc(block))
    assert head.state_root == block.header.state_root
    assert ledger.record(fx.record_id("r2")) is not None
    ledger.verify()


def test_a_different_body_under_a_validated_header_is_refused(
    fx: ChainFixture, ledger: Ledger
) -> None:
    block = fx.next_block(ledger, [fx.put_record("alice", "r2")])
    other = dataclasses.replace(block, transactions=(fx.put_record("alice", "r3"),))
    assert other.hash() == block.hash()
    with pytest.raises(InvalidBlock, match="tx_root"):
        ledger.apply(other, fx.commit_qc(block))


@pytest.mark.parametrize("recheck", [False, True])
def test_outcome_is_not_reused_on_another_head(
    fx: ChainFixture, ledger: Ledger, recheck: bool
) -> None:
    # Validate a block, then apply a different one first: the stale outcome must not be used.
    register = fx.register("dave", role=MemberRole.REQUESTER)
    first = fx.next_block(ledger, [register])
    fx.next_block(ledger, [fx.put_record("alice", "r2")])  # validated last, then dropped
    ledger.apply(first, fx.commit_qc(first), recheck=recheck)
    second = fx.next_block(ledger, [fx.put_record("alice", "r2")])
    ledger.apply(second, fx.commit_qc(second), recheck=recheck)
    assert ledger.member(fx.member_id("dave")) is not None
    assert ledger.record(fx.record_id("r2")) is not None
    ledger.verify()
