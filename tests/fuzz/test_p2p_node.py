"""A running node's consensus link, fed generated and mutated frame batches as a peer sends them.

The decoders alone are fuzzed in test_decoders.py; here the bytes go through the node itself
(:meth:`node.consensus_loop.ConsensusLoop.take_batch`): the batch, every message in it, the
node's catch-up bookkeeping, and its consensus machine with the application behind it. The
starting material is what a peer could send this node: sync replies carrying its real blocks
and commit QCs, and votes, claims and proposals signed with its own key (as gossip echoes a
node's own messages back), plus the stored vectors. No input may crash the node or change its
chain or its belief that it lags behind; signatures break under mutation, so nothing the
fuzzer sends can be a message the node should act on. Transactions a peer relays enter the
consensus pool before they are checked (as designed: the checks run when a block is built and
after each round), so the pool is checked once a few rounds have passed.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.encoding import NO_ROUND, ItemKind
from consensus.messages import (
    AuthVote,
    CommitVote,
    LeaderClaim,
    PrepareVote,
    Submission,
    SyncReply,
    SyncRequest,
)
from consensus.signer import Ed25519Signer
from ledger.qc import access_vote_payload, commit_vote_payload
from node.wire import FrameBatch
from tests.fuzz import corpus
from tests.fuzz.budget import P2P_SHARE, fuzz_settings, plan, share, start
from tests.fuzz.fuzz_node import FuzzNode, Known
from tests.fuzz.mutations import mutate, mutated

#: Fewest batches sent per Hypothesis example: the drawn one, then mutants of its bytes.
BATCH_MUTANTS = 4
#: Virtual time after the fuzzing for the node to drop what peers relayed (a few rounds).
SETTLE_SECONDS = 10.0


def own_messages(known: Known) -> list[bytes]:
    """Messages a peer may send this node, signed with the node's own key, none of them for a
    height past the next one (a signed message from later would rightly make it sync)."""
    signer = Ed25519Signer(known.node_key)
    chain, height = known.chain_id, known.height + 1
    last = known.committed[-1]

    def signed(message: Any) -> Any:
        return dataclasses.replace(message, signature=signer.sign(message.signing_bytes(chain)))

    request = known.transactions[-1]  # the granted access request
    request_id = bytes.fromhex(known.request_id)
    vouch = signer.sign(access_vote_payload(chain, request_id, True, b"share"))
    approve = AuthVote(request_id, 1, True, b"share", vouch)
    commit_hash = bytes(32)
    claim = signed(LeaderClaim(height, 0, 1, NO_ROUND, commit_hash, last.block, (), b""))
    commit = signer.sign(commit_vote_payload(chain, height, 0, commit_hash))
    messages = [
        Submission(ItemKind.REQUEST, request),
        approve,
        claim,
        signed(PrepareVote(height, 0, 1, commit_hash, b"")),
        signed(PrepareVote(height, 1, 1, None, b"")),
        CommitVote(height, 0, 1, commit_hash, commit),
        signed(CommitVote(height, 2, 1, None, b"")),
        signed(LeaderClaim(height, 1, 1, 0, commit_hash, last.block, (), b"")),
        SyncRequest(1, 1),
        SyncRequest(height, 2),
        SyncReply(known.committed),
        SyncReply(known.committed[-1:]),
    ]
    return [message.to_bytes() for message in messages]


def batches(known: Known) -> st.SearchStrategy[bytes]:
    frames = st.sampled_from([*own_messages(known), *corpus.consensus_messages()])
    frame = st.one_of(frames, frames, mutated(frames), st.binary(max_size=64))
    return st.lists(frame, max_size=8).map(lambda fs: FrameBatch(tuple(fs)).to_bytes())


@pytest.mark.usefixtures("quiet_node")
def test_the_node_survives_any_link_traffic_and_changes_nothing(p2p_node: FuzzNode) -> None:
    node = p2p_node
    before = dataclasses.replace(node.state(), pending=0)
    strategy = batches(node.known)
    name = "node consensus link (in process)"
    tally = start(name)
    inputs = share(P2P_SHARE)
    examples, batch = plan(inputs, BATCH_MUTANTS)

    @fuzz_settings(name, examples)
    @given(strategy, st.integers(0, 2**64 - 1))
    def run(payload: bytes, rng_seed: int) -> None:
        rng = random.Random(rng_seed)
        mutants = [mutate(rng, payload, payload) for _ in range(batch - 1)]
        for attempt in [payload, *mutants]:
            tally.tried(refused=node.take_batch(attempt))
            after = dataclasses.replace(node.state(), pending=0)
            if after != before:
                changed.append(attempt)
                raise AssertionError(f"{after} after batch {attempt[:300].hex()}")

    changed: list[bytes] = []
    try:
        run()
    except AssertionError as exc:
        if changed:  # later examples all fail once the node changed: name the first culprit
            raise AssertionError(f"the node changed after batch {changed[0].hex()}") from exc
        raise
    tally.finish()
    node.settle(SETTLE_SECONDS)
    assert node.state() == before, "the pool still holds what peers relayed, or the chain moved"
    assert node.request("GET", "/status").status == 200
    assert tally.inputs >= inputs * 0.9, f"only {tally.inputs} of {inputs} inputs tried"
