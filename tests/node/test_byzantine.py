"""The test-only Byzantine node: enabled by its variable alone, and lying in checkable ways.

What honest nodes make of it (evidence, safety, liveness) is tests/integration/test_byzantine.py.
"""

from __future__ import annotations

import logging

import pytest

from consensus.encoding import NO_ROUND
from consensus.messages import CommitVote, LeaderClaim, SyncRequest, decode_message
from consensus.signer import Ed25519Verifier
from consensus.votes import AuthVote, PrepareVote
from crypto.groups import load_group
from crypto.signing import SigningKey
from ledger.block import Block
from ledger.qc import access_vote_payload, commit_vote_payload
from ledger.transactions import MemberRole
from node.byzantine import TEST_BYZANTINE_ENV, Byzantine, Mode, modes_from_env
from node.config import ConfigError
from node.wire import FrameBatch
from tests.node.app_world import AppWorld, make_world
from tests.node.inprocess import memory_network, mock_clock_test

CHAIN = "byzantine-test"
PEERS = (1, 2, 3)
KEY = SigningKey.generate()  # node 4's
VERIFIER = Ed25519Verifier([SigningKey.generate().verify_key] * 3 + [KEY.verify_key])


def liar(*modes: Mode) -> Byzantine:
    return Byzantine(modes, KEY, CHAIN, load_group())


def sent(frames: list[tuple[int, bytes]], peer: int) -> list[object]:
    return [decode_message(frame) for to, frame in frames if to == peer]


def test_only_the_variable_turns_it_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(TEST_BYZANTINE_ENV, raising=False)
    with caplog.at_level(logging.WARNING):
        assert modes_from_env() == frozenset()
    assert "TEST ONLY" not in caplog.text
    monkeypatch.setenv(TEST_BYZANTINE_ENV, " withhold, garbage ")
    with caplog.at_level(logging.WARNING):
        assert modes_from_env() == {Mode.WITHHOLD, Mode.GARBAGE}
    assert "TEST ONLY: Byzantine modes garbage,withhold" in caplog.text
    monkeypatch.setenv(TEST_BYZANTINE_ENV, "equivocate,lie-a-lot")
    with pytest.raises(ConfigError, match=r"unknown mode 'lie-a-lot'.*bad-shares"):
        modes_from_env()


def test_equivocation_sends_two_signed_votes_in_an_order_that_differs_by_peer() -> None:
    block_hash = bytes(range(32))
    vote = CommitVote(7, 1, 4, block_hash, KEY.sign(commit_vote_payload(CHAIN, 7, 1, block_hash)))
    frames = liar(Mode.EQUIVOCATE).outgoing(None, vote, PEERS)
    first, second = sent(frames, 1)
    assert (first, second) == tuple(reversed(sent(frames, 2)))
    assert first == vote
    assert isinstance(second, CommitVote)
    assert (second.height, second.round, second.voter, second.block_hash) == (7, 1, 4, None)
    assert VERIFIER.verify(4, second.signing_bytes(CHAIN), second.signature)

    nil = PrepareVote(7, 1, 4, None, bytes(64))
    _, other = sent(liar(Mode.EQUIVOCATE).outgoing(3, nil, PEERS), 3)
    assert isinstance(other, PrepareVote)
    assert other.block_hash is not None
    assert VERIFIER.verify(4, other.signing_bytes(CHAIN), other.signature)


def test_an_equivocating_approval_comes_with_a_signed_denial() -> None:
    approval = AuthVote(bytes(32), 4, True, b"share", bytes(64))
    _, denial = sent(liar(Mode.EQUIVOCATE).outgoing(1, approval, PEERS), 1)
    assert isinstance(denial, AuthVote)
    assert (denial.approve, denial.share) == (False, b"")
    payload = access_vote_payload(CHAIN, bytes(32), False, b"")
    assert VERIFIER.verify(4, payload, denial.signature)


def test_withholding_drops_what_consensus_needs_from_it_and_nothing_else() -> None:
    withholding = liar(Mode.WITHHOLD)
    assert withholding.outgoing(None, PrepareVote(7, 1, 4, None, bytes(64)), PEERS) == []
    asking = SyncRequest(3, 4)
    frames = withholding.outgoing(None, asking, PEERS)
    assert frames == [(peer, asking.to_bytes()) for peer in PEERS]
    assert withholding.outgoing(4, asking, PEERS) == []  # not a peer of this node's links


def test_a_conflicting_claim_carries_the_same_block_a_millisecond_later(world: AppWorld) -> None:
    _, register = world.member(MemberRole.REQUESTER)
    world.commit_all([register])
    committed = world.apps[1].committed_block(world.apps[1].ledger.height)
    assert committed is not None
    block = Block.from_bytes(committed.block)
    claim = LeaderClaim(block.height, 0, 4, NO_ROUND, block.hash(), committed.block, (), bytes(64))
    frames = liar(Mode.CONFLICTING_PROPOSALS).outgoing(None, claim, PEERS)
    honest, other = sent(frames, 1)
    assert honest == claim
    assert isinstance(other, LeaderClaim)
    changed = Block.from_bytes(other.block)
    assert changed.header.time_ms == block.header.time_ms + 1
    assert changed.transactions == block.transactions
    assert other.block_hash == changed.hash() != block.hash()
    assert VERIFIER.verify(4, other.signing_bytes(CHAIN), other.signature)


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@mock_clock_test
async def test_junk_at_full_rate_is_logged_sparingly() -> None:
    # Each malformed frame used to be one warning: a junk flood filled the log as fast.
    handler = _Kept()
    consensus_logger = logging.getLogger("iomtshare.node.consensus")
    consensus_logger.addHandler(handler)
    try:
        async with memory_network(make_world(), [1]) as network:
            junk = FrameBatch((b"\x00junk",) * 2500).to_bytes()
            await network.parts[1].consensus.take_batch(junk, 4, "node4")
    finally:
        consensus_logger.removeHandler(handler)
    logged = [r.getMessage() for r in handler.records if "bad consensus" in r.msg]
    counts = [message.rsplit("count=", 1)[1] for message in logged]
    assert counts == ["1", "1000", "2000"]
