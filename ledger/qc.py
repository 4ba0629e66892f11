"""Commit votes and commit quorum certificates, and the access-vote payload of sharing results.

:func:`commit_vote_payload` is the ONE definition of what a node signs when it commits a block;
the node passes the same function to consensus (which cannot import the ledger). A
:class:`CommitQC` holds ``quorum`` or more signatures of distinct genesis nodes over that payload.
:func:`access_vote_payload` is likewise what a node signs when it approves or denies an access
request (an approval signs its re-encryption share with it); sharing results carry those votes,
each with its share, and consensus relays the very same signed votes.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.errors import VerificationError
from crypto.hashing import digest
from ledger.encoding import (
    BLOB,
    BOOL,
    HASH,
    SIGNATURE,
    TAG_ACCESS_VOTE,
    TAG_COMMIT_QC,
    TAG_COMMIT_SIG,
    U16,
    U32,
    U64,
    Encoded,
    nested,
    sequence,
)
from ledger.errors import InvalidBlock
from ledger.genesis import Genesis

COMMIT_VOTE_TAG = b"iomtshare/ledger/commit-vote/v1"
ACCESS_VOTE_TAG = b"iomtshare/ledger/access-vote/v2"


def commit_vote_payload(chain_id: str, height: int, round: int, block_hash: bytes) -> bytes:
    """The 32 bytes a node signs to commit ``block_hash`` at ``height`` in ``round``."""
    return digest(
        COMMIT_VOTE_TAG,
        chain_id.encode("utf-8"),
        height.to_bytes(8, "big"),
        round.to_bytes(4, "big"),
        block_hash,
    )


def access_vote_payload(chain_id: str, request_id: bytes, approve: bool, share: bytes) -> bytes:
    """The 32 bytes a node signs to approve (or deny) the access request with id ``request_id``;
    an approval's ``share`` is its re-encryption share with proof (empty for a denial)."""
    decision = b"\x01" if approve else b"\x00"
    return digest(ACCESS_VOTE_TAG, chain_id.encode("utf-8"), request_id, decision, share)


@dataclass(frozen=True, slots=True)
class CommitSignature(Encoded):
    """One node's signature over :func:`commit_vote_payload`."""

    node_index: int
    signature: bytes

    TAG = TAG_COMMIT_SIG
    FIELDS = (("node_index", U16), ("signature", SIGNATURE))


@dataclass(frozen=True, slots=True)
class CommitQC(Encoded):
    """A quorum certificate committing ``block_hash`` at ``height``; signers sorted by index."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSignature, ...]

    TAG = TAG_COMMIT_QC
    FIELDS = (
        ("height", U64),
        ("round", U32),
        ("block_hash", HASH),
        ("signatures", sequence(nested(CommitSignature))),
    )

    def hash(self) -> bytes:
        return digest(b"iomtshare/ledger/commit-qc/v1", self.to_bytes())


@dataclass(frozen=True, slots=True)
class AccessVote(Encoded):
    """One node's signed approve/deny vote on an access request; an approval carries the node's
    re-encryption share with its proof (opaque here), a denial no share."""

    node_index: int
    approve: bool
    share: bytes
    signature: bytes

    TAG = TAG_ACCESS_VOTE
    VERSION = 2
    FIELDS = (
        ("node_index", U16),
        ("approve", BOOL),
        ("share", BLOB),
        ("signature", SIGNATURE),
    )


def _check_signers(genesis: Genesis, indexes: list[int], what: str) -> None:
    if indexes != sorted(set(indexes)):
        raise InvalidBlock(f"{what}: signer indexes must be strictly increasing")
    for index in indexes:
        if genesis.node(index) is None:
            raise InvalidBlock(f"{what}: node {index} is not in genesis")


def verify_commit_qc(genesis: Genesis, qc: CommitQC, *, height: int, block_hash: bytes) -> None:
    """Check that ``qc`` commits ``block_hash`` at ``height`` with a quorum of valid signatures.

    Raises :class:`InvalidBlock` naming the failed check.
    """
    if qc.height != height:
        raise InvalidBlock(f"commit QC is for height {qc.height}, expected {height}")
    if qc.block_hash != block_hash:
        raise InvalidBlock(f"commit QC at height {height} names a different block hash")
    _check_signers(genesis, [s.node_index for s in qc.signatures], "commit QC")
    if len(qc.signatures) < genesis.quorum:
        raise InvalidBlock(
            f"commit QC has {len(qc.signatures)} signatures, quorum is {genesis.quorum}"
        )
    payload = commit_vote_payload(genesis.chain_id, qc.height, qc.round, qc.block_hash)
    for sig in qc.signatures:
        key = genesis.node_verify_key(sig.node_index)
        if key is None:  # pragma: no cover - excluded by _check_signers
            raise InvalidBlock(f"commit QC: node {sig.node_index} is not in genesis")
        try:
            key.verify(payload, sig.signature)
        except VerificationError as exc:
            raise InvalidBlock(f"commit QC: bad signature of node {sig.node_index}") from exc


def check_access_votes(genesis: Genesis, votes: tuple[AccessVote, ...], *, granted: bool) -> None:
    """Check the shape of a decision's votes (signatures aside): distinct genesis nodes in
    increasing order, a quorum agreeing with ``granted``, a share on every approval and none on
    a denial. Raises :class:`InvalidBlock`."""
    _check_signers(genesis, [v.node_index for v in votes], "access votes")
    agreeing = sum(1 for v in votes if v.approve == granted)
    if agreeing < genesis.quorum:
        raise InvalidBlock(f"{agreeing} votes agree with the decision, quorum is {genesis.quorum}")
    for vote in votes:
        if vote.approve != bool(vote.share):
            raise InvalidBlock(
                f"access votes: node {vote.node_index}'s "
                + ("approval carries no share" if vote.approve else "denial carries a share")
            )


def verify_access_votes(
    genesis: Genesis, votes: tuple[AccessVote, ...], *, request_id: bytes, granted: bool
) -> None:
    """Check that ``votes`` hold a quorum of valid votes for the decision ``granted``
    (:func:`check_access_votes`, and every signature).

    Votes the other way may be present (they are part of the record) but must be valid too.
    Raises :class:`InvalidBlock`.
    """
    check_access_votes(genesis, votes, granted=granted)
    for vote in votes:
        key = genesis.node_verify_key(vote.node_index)
        if key is None:  # pragma: no cover - excluded by _check_signers
            raise InvalidBlock(f"access votes: node {vote.node_index} is not in genesis")
        payload = access_vote_payload(genesis.chain_id, request_id, vote.approve, vote.share)
        try:
            key.verify(payload, vote.signature)
        except VerificationError as exc:
            raise InvalidBlock(f"access votes: bad signature of node {vote.node_index}") from exc
