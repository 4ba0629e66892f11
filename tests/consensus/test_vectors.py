"""Stored test vectors: the exact bytes of one sample of every consensus type, replayed.

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/consensus_messages.json`` after
a deliberate format change (and bump the type's version when old data must stay readable).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from consensus.encoding import NO_ROUND, ItemKind
from consensus.evidence import BadShare, Equivocation
from consensus.messages import (
    AuthVote,
    CommittedBlock,
    CommitVote,
    LeaderClaim,
    PrepareVote,
    Submission,
    SyncReply,
    SyncRequest,
)
from consensus.safety import SafetyState
from consensus.signer import Ed25519Signer
from consensus.simulation.fake import fake_access_payload, fake_commit_payload, sim_item_id
from crypto.hashing import digest
from crypto.signing import SigningKey

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "consensus_messages.json"
CHAIN = "vector-chain"


def _key(i: int) -> Ed25519Signer:
    return Ed25519Signer(SigningKey(digest(b"vector-key", bytes([i]))))


def _signed(msg: Any, signer: int) -> Any:
    import dataclasses

    return dataclasses.replace(msg, signature=_key(signer).sign(msg.signing_bytes(CHAIN)))


def build_samples() -> dict[str, Any]:
    """Deterministic, really signed samples (Ed25519 signatures are deterministic)."""
    request = b"request body"
    request_id = sim_item_id(request)
    h = digest(b"vector-block")
    share = b"share-and-proof"
    yes = _key(1).sign(fake_access_payload(CHAIN, request_id, True, share))
    no = _key(2).sign(fake_access_payload(CHAIN, request_id, False, b""))
    approve = AuthVote(request_id, 1, True, share, yes)
    deny = AuthVote(request_id, 2, False, b"", no)
    prepare = _signed(PrepareVote(7, 0, 4, h, b""), 4)
    claim = _signed(LeaderClaim(7, 1, 3, NO_ROUND, h, b"block bytes", (), b""), 3)
    reclaim = _signed(LeaderClaim(7, 2, 3, 0, h, b"block bytes", (prepare,), b""), 3)
    nil_commit = _signed(CommitVote(7, 1, 4, None, b""), 4)
    commit = CommitVote(7, 1, 2, h, _key(2).sign(fake_commit_payload(CHAIN, 7, 1, h)))
    committed = CommittedBlock(7, 1, h, b"block bytes", (2,), (commit.signature,))
    return {
        "Submission": Submission(ItemKind.TX, b"tx:1"),
        "AuthVote/approve": approve,
        "AuthVote/deny": deny,
        "LeaderClaim": claim,
        "LeaderClaim/re-proposal": reclaim,
        "PrepareVote": prepare,
        "CommitVote/nil": nil_commit,
        "CommitVote/block": commit,
        "SyncRequest": SyncRequest(7, 5),
        "SyncReply": SyncReply((committed,)),
        "CommittedBlock": committed,
        "Equivocation": Equivocation(4, 7, 1, prepare.to_bytes(), nil_commit.to_bytes()),
        "BadShare": BadShare(approve),
        "SafetyState": SafetyState(7, 3, 2, h, b"block bytes"),
    }


def _expected() -> dict[str, dict[str, str]]:
    samples = build_samples()
    out = {}
    for name, value in samples.items():
        entry = {"hex": value.to_bytes().hex()}
        if hasattr(value, "signing_bytes"):
            entry["signing_bytes"] = value.signing_bytes(CHAIN).hex()
        out[name] = entry
    return out


def test_vectors_match_stored_file() -> None:
    expected = _expected()
    if os.environ.get("IOMTSHARE_REGEN_VECTORS"):
        VECTORS.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == expected


@pytest.mark.parametrize("name", sorted(build_samples()))
def test_stored_bytes_decode_to_the_sample(name: str) -> None:
    stored = json.loads(VECTORS.read_text())[name]
    sample = build_samples()[name]
    decoded = type(sample).from_bytes(bytes.fromhex(stored["hex"]))
    assert decoded == sample
