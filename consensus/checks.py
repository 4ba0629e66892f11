"""Verification of signed consensus messages, claims, block content and commit QCs.

Each check returns a bool (or a short reason) instead of raising, because the caller's reaction to
bad input from a peer is always the same: drop it, and keep evidence when the input proves
misbehaviour. Results of the expensive checks (share proofs, signatures of votes carried inside
claims and blocks) are cached, so a vote is verified once however many claims repeat it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from consensus.app import AccessPayload, Application, CommitPayload
from consensus.config import ConsensusConfig
from consensus.encoding import NO_ROUND, ItemKind
from consensus.errors import InvalidMessage
from consensus.item import Item
from consensus.messages import BlockContent, CommittedBlock, LeaderClaim
from consensus.signer import Verifier
from consensus.votes import AuthVote, CommitVote, DecidedRequest

_CACHE_LIMIT = 50_000


class VoteStatus(Enum):
    """Outcome of checking one authorization vote."""

    OK = "ok"
    BAD_SIGNATURE = "bad-signature"
    BAD_SHARE = "bad-share"
    WRONG_REQUEST = "wrong-request"


class Checker:
    """Stateless rules plus caches; one per node."""

    def __init__(
        self,
        config: ConsensusConfig,
        verifier: Verifier,
        app: Application,
        commit_payload: CommitPayload,
        access_payload: AccessPayload,
    ) -> None:
        self.config = config
        self._verifier = verifier
        self._app = app
        self._commit_payload = commit_payload
        self._access_payload = access_payload
        # Keyed by the whole vote: a copy with another decision or share under the same
        # signature must not inherit the original's status.
        self._vote_cache: dict[AuthVote, VoteStatus] = {}
        self._sig_cache: set[tuple[int, bytes, bytes]] = set()

    # -- signatures ----------------------------------------------------------------------

    def signed_by(self, signer: int, signing_bytes: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is ``signer``'s over ``signing_bytes`` (cached when true)."""
        key = (signer, signing_bytes, signature)
        if key in self._sig_cache:
            return True
        if not 1 <= signer <= self.config.n:
            return False
        if not self._verifier.verify(signer, signing_bytes, signature):
            return False
        if len(self._sig_cache) > _CACHE_LIMIT:
            self._sig_cache.clear()
        self._sig_cache.add(key)
        return True

    def commit_signing_bytes(self, vote: CommitVote) -> bytes:
        """A block vote signs the ledger's payload; a nil vote signs the consensus encoding."""
        if vote.block_hash is None:
            return vote.signing_bytes(self.config.chain_id)
        return self._commit_payload(self.config.chain_id, vote.height, vote.round, vote.block_hash)

    def access_signing_bytes(self, request_id: bytes, approve: bool, share: bytes) -> bytes:
        """What an authorization vote signs (the ledger's access payload)."""
        return self._access_payload(self.config.chain_id, request_id, approve, share)

    def commit_vote_ok(self, vote: CommitVote) -> bool:
        return self.signed_by(vote.voter, self.commit_signing_bytes(vote), vote.signature)

    # -- authorization votes -------------------------------------------------------------

    def auth_vote(self, request: Item, vote: AuthVote) -> VoteStatus:
        """Check the signature and, for an approval, the re-encryption share."""
        if not self._names(request, vote):
            # Not cached: a block pairing a vote with the wrong request must not spoil the
            # vote for its own request.
            return VoteStatus.WRONG_REQUEST
        cached = self._vote_cache.get(vote)
        if cached is not None:
            return cached
        status = self._check_auth_vote(request, vote)
        if len(self._vote_cache) > _CACHE_LIMIT:
            self._vote_cache.clear()
        self._vote_cache[vote] = status
        return status

    @staticmethod
    def _names(request: Item, vote: AuthVote) -> bool:
        return vote.request_id == request.item_id and request.kind is ItemKind.REQUEST

    def known_status(self, vote: AuthVote) -> VoteStatus | None:
        """The outcome of an earlier full check of ``vote`` (:meth:`auth_vote`), if any."""
        return self._vote_cache.get(vote)

    def auth_vote_signed(self, request: Item, vote: AuthVote) -> VoteStatus:
        """Everything but the share proof: the vote names ``request`` and its voter signed it.
        Costs one signature check; the share's two pairings wait for :meth:`auth_vote`."""
        if not self._names(request, vote):
            return VoteStatus.WRONG_REQUEST
        signing = self.access_signing_bytes(vote.request_id, vote.approve, vote.share)
        if not self.signed_by(vote.voter, signing, vote.signature):
            return VoteStatus.BAD_SIGNATURE
        return VoteStatus.OK

    def _check_auth_vote(self, request: Item, vote: AuthVote) -> VoteStatus:
        status = self.auth_vote_signed(request, vote)
        if status is not VoteStatus.OK:
            return status
        if vote.approve and not self._app.verify_share(request, vote.voter, vote.share):
            return VoteStatus.BAD_SHARE
        return VoteStatus.OK

    def approvals_needed(self, request: Item) -> int:
        """Approvals a request needs: a quorum, and at least t of them for the shares."""
        return max(self.config.quorum, self._app.request_threshold(request))

    def decided_ok(self, decided: DecidedRequest, approve: bool) -> bool:
        """Enough distinct, valid votes all deciding the same way."""
        votes = decided.votes
        voters = [v.voter for v in votes]
        if len(set(voters)) != len(voters):
            return False
        if any(v.approve != approve for v in votes):
            return False
        try:
            needed = self.approvals_needed(decided.request) if approve else self.config.quorum
        except InvalidMessage:
            return False
        if len(votes) < needed:
            return False
        return all(self.auth_vote(decided.request, v) is VoteStatus.OK for v in votes)

    # -- claims and blocks ---------------------------------------------------------------

    def _items_fresh(self, ids: Iterable[bytes]) -> bool:
        seen: set[bytes] = set()
        for ident in ids:
            if ident in seen or self._app.is_committed(ident):
                return False
            seen.add(ident)
        return True

    def claim_ok(self, claim: LeaderClaim) -> bool:
        """The claimant's signature and a ``valid_round`` before the claim's round. Its block
        is checked (:meth:`content_ok`, :meth:`claim_matches`) only when it is voted on."""
        if claim.valid_round != NO_ROUND and claim.valid_round >= claim.round:
            return False
        signing = claim.signing_bytes(self.config.chain_id)
        return self.signed_by(claim.claimant, signing, claim.signature)

    @staticmethod
    def claim_matches(claim: LeaderClaim, content: BlockContent) -> bool:
        """A freshly built block names the claim's round and claimant (the claim stands in for
        the election QC blocks no longer carry); a re-proposed block was built in a round no
        later than the round that prepared it."""
        if claim.valid_round == NO_ROUND:
            return (content.round, content.proposer) == (claim.round, claim.claimant)
        return content.round <= claim.valid_round

    def content_ok(self, height: int, content: BlockContent) -> bool:
        """Consensus-level rules for a block; the application checks its own in open_block."""
        if content.height != height:
            return False
        items = content.item_ids()
        if not items or len(items) > self.config.max_items:
            return False
        if not self._items_fresh(items):
            return False
        if not all(
            tx.kind is ItemKind.TX and self._app.check_transaction(tx) for tx in content.txs
        ):
            return False
        return all(self.decided_ok(d, True) for d in content.approved) and all(
            self.decided_ok(d, False) for d in content.denied
        )

    def commit_qc_ok(self, block: CommittedBlock) -> bool:
        """A quorum of distinct validators' commit-vote signatures over the block hash."""
        if len(block.signers) < self.config.quorum:
            return False
        if len(set(block.signers)) != len(block.signers):
            return False
        payload = self._commit_payload(
            self.config.chain_id, block.height, block.round, block.block_hash
        )
        return all(
            self.signed_by(signer, payload, sig)
            for signer, sig in zip(block.signers, block.signatures, strict=True)
        )
