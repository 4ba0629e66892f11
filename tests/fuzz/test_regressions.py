"""What the fuzzers found, replayed as plain tests so that the fix stays whatever the seed.

* A frame naming a far height, unsigned, made a node believe it lagged behind for good:
  ``/status`` said syncing, ``/health`` answered 503 and state-dependent refusals turned
  into 503s. Only a signed message or a commit QC may now move that belief.
* The round field of a vote, claim, proposal or committed block decoded the absent round
  (``0xFFFFFFFF``) as -1, which the signed payloads cannot hold: checking such a message's
  signature raised ``OverflowError``. Those fields now refuse it when decoded.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from consensus.encoding import NO_ROUND
from consensus.messages import (
    CommittedBlock,
    CommitVote,
    LeaderClaim,
    PrepareVote,
    SyncReply,
    decode_message,
)
from consensus.signer import Ed25519Signer
from crypto.codec import Writer
from crypto.errors import DecodeError
from node.home import load_identity
from node.wire import FrameBatch
from tests.node.inprocess import mock_clock_test, one_node

FAR = 2**63


def batch(*messages: object) -> bytes:
    return FrameBatch(tuple(m.to_bytes() for m in messages)).to_bytes()  # type: ignore[attr-defined]


@mock_clock_test
async def test_only_a_signed_height_makes_a_node_syncing(tmp_path: Path) -> None:
    async with one_node(tmp_path / "net") as node:
        forged = PrepareVote(FAR, 0, 1, bytes(32), bytes(64))
        reply = SyncReply((CommittedBlock(FAR, 0, bytes(32), b"block", (1,), (bytes(64),)),))
        await node.parts.consensus.take_batch(batch(forged, reply), None, "peer")
        assert (await node.client.get("/status")).json()["syncing"] is False
        assert (await node.client.get("/health")).status_code == 200

        # The node's own key is a genesis key: a height it signed is proof, and still counts.
        identity = load_identity(node.network.directory / "node1")
        signature = Ed25519Signer(identity.node_key).sign(
            forged.signing_bytes(identity.genesis.chain_id)
        )
        signed = dataclasses.replace(forged, signature=signature)
        await node.parts.consensus.take_batch(batch(signed), None, "peer")
        assert (await node.client.get("/status")).json()["syncing"] is True


def _with_absent_round(message: object, round_at: int) -> bytes:
    """``message``'s encoding with the u32 round at byte ``round_at`` set to 0xFFFFFFFF."""
    raw = bytearray(message.to_bytes())  # type: ignore[attr-defined]
    raw[round_at : round_at + 4] = Writer().u32(0xFFFFFFFF).to_bytes()
    return bytes(raw)


# Every message whose round is required: tag, version and u64 height come first.
REQUIRED_ROUND = [
    PrepareVote(1, 0, 1, bytes(32), bytes(64)),
    CommitVote(1, 0, 1, bytes(32), bytes(64)),
    LeaderClaim(1, 0, 1, NO_ROUND, bytes(32), b"block", (), bytes(64)),
    SyncReply((CommittedBlock(1, 0, bytes(32), b"block", (1,), (bytes(64),)),)),
]


@pytest.mark.parametrize("message", REQUIRED_ROUND, ids=lambda m: type(m).__name__)
def test_a_required_round_refuses_the_absent_round(message: object) -> None:
    # A sync reply's block starts after the reply's header and count (2 + 4 bytes).
    round_at = 2 + 8 if not isinstance(message, SyncReply) else 6 + 2 + 8
    with pytest.raises(DecodeError, match="absent round"):
        decode_message(_with_absent_round(message, round_at))
    # The optional rounds still take it: a claim or proposal without a valid round.
    assert decode_message(message.to_bytes()) == message  # type: ignore[attr-defined]


@mock_clock_test
async def test_a_commit_vote_without_a_round_is_dropped_as_malformed(tmp_path: Path) -> None:
    async with one_node(tmp_path / "net") as node:
        vote = _with_absent_round(CommitVote(FAR, 0, 1, bytes(32), bytes(64)), 2 + 8)
        await node.parts.consensus.take_batch(FrameBatch((vote,)).to_bytes(), None, "peer")
        assert (await node.client.get("/status")).json()["syncing"] is False
