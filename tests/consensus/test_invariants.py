"""The invariant checker itself catches planted violations (so a passing run means something)."""

from __future__ import annotations

import dataclasses

from consensus.encoding import ItemKind
from consensus.messages import BlockContent, CommittedBlock
from consensus.simulation.fake import (
    FakeRequest,
    decode_block,
    encode_block,
    fake_combined,
    sim_item,
)
from consensus.simulation.invariants import check_liveness, check_safety
from consensus.simulation.scenario import random_scenario
from consensus.simulation.simulator import SimResult, run
from consensus.votes import AuthVote


def _run_with_a_request() -> SimResult:
    for seed in range(50):
        result = run(random_scenario(seed, 4, "clean"))
        ledger = result.ledgers[1]
        if any(c.approved for c in ledger.contents):
            return result
    raise AssertionError("no seed approved a request")


def _replace_block(result: SimResult, node: int, content: BlockContent) -> None:
    """Swap node's block holding ``content``'s height for one built from ``content``."""
    ledger = result.ledgers[node]
    k = content.height - 1
    height, prev, _, _ = decode_block(ledger.blocks[k].block)
    results = [(d.request_id, fake_combined(d.request.body)) for d in content.approved]
    raw = encode_block(height, prev, content, results)
    ledger.blocks[k] = dataclasses.replace(ledger.blocks[k], block=raw)
    ledger.contents[k] = content


def test_clean_run_passes() -> None:
    result = _run_with_a_request()
    assert check_safety(result) == []
    assert check_liveness(result) == []


def test_diverging_chains_are_reported() -> None:
    result = _run_with_a_request()
    ledger = result.ledgers[2]
    ledger.blocks[0] = dataclasses.replace(ledger.blocks[0], block_hash=bytes(32))
    problems = check_safety(result)
    assert any(p.startswith("agreement: height 1") for p in problems)


def test_bad_share_in_a_block_is_reported() -> None:
    result = _run_with_a_request()
    content = next(c for c in result.ledgers[3].contents if c.approved)
    bundle = content.approved[0]
    bad_vote: AuthVote = dataclasses.replace(bundle.votes[0], share=bytes(64))
    bad_bundle = dataclasses.replace(bundle, votes=(bad_vote, *bundle.votes[1:]))
    _replace_block(result, 3, dataclasses.replace(content, approved=(bad_bundle,)))
    assert any("bad share" in p for p in check_safety(result))


def test_denied_request_with_a_ciphertext_is_reported() -> None:
    result = _run_with_a_request()
    content = next(c for c in result.ledgers[4].contents if c.approved)
    bundle = content.approved[0]
    parsed = FakeRequest.from_bytes(bundle.request.body)
    denied_body = dataclasses.replace(parsed, allowed=False).to_bytes()
    planted = dataclasses.replace(bundle, request=sim_item(ItemKind.REQUEST, denied_body))
    _replace_block(result, 4, dataclasses.replace(content, approved=(planted,)))
    problems = check_safety(result)
    assert any("denied request" in p for p in problems)


def test_missing_commit_is_reported() -> None:
    result = _run_with_a_request()
    ledger = result.ledgers[1]
    ledger.items.clear()
    assert any("never committed" in p for p in check_liveness(result))


def test_short_commit_qc_is_reported() -> None:
    result = _run_with_a_request()
    block: CommittedBlock = result.ledgers[2].blocks[0]
    result.ledgers[2].blocks[0] = dataclasses.replace(
        block, signers=block.signers[:1], signatures=block.signatures[:1]
    )
    assert any("too few signers" in p for p in check_safety(result))
