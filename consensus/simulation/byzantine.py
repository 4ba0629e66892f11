"""Byzantine nodes: an honest state machine whose outgoing messages an adversary rewrites.

The adversary signs with the faulty node's own key (it cannot forge honest nodes' signatures),
so every misbehaviour here is one a real faulty validator could commit.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from consensus.app import AccessPayload, Application, CommitPayload
from consensus.config import ConsensusConfig
from consensus.encoding import NO_ROUND
from consensus.errors import InvalidBlock
from consensus.item import Item
from consensus.messages import BlockContent, LeaderClaim
from consensus.output import Output, Send
from consensus.signer import Signer
from consensus.simulation.scenario import Behavior
from consensus.votes import AuthVote, CommitVote, DecidedRequest, PrepareVote
from crypto.errors import CryptoError
from crypto.hashing import digest

Vote = PrepareVote | CommitVote
Signable = LeaderClaim | PrepareVote


class Adversary:
    """Rewrites one faulty node's outputs according to its behaviours."""

    def __init__(
        self,
        config: ConsensusConfig,
        index: int,
        behaviors: frozenset[Behavior],
        signer: Signer,
        app: Application,
        rng: random.Random,
        commit_payload: CommitPayload,
        access_payload: AccessPayload,
        request_of: Callable[[bytes], Item | None],
        share_for: Callable[[bytes], bytes],
    ) -> None:
        self.config = config
        self.index = index
        self.behaviors = behaviors
        self._signer = signer
        self._app = app
        self._rng = rng
        self._commit_payload = commit_payload
        self._access_payload = access_payload
        self._request_of = request_of
        self._share_for = share_for
        self._claimed: set[tuple[int, int]] = set()
        self._last_request: bytes | None = None

    def rewrite(self, out: Output) -> Output:
        """Return ``out`` with its sends replaced by the adversary's."""
        sends: list[Send] = []
        for send in out.sends:
            sends.extend(self._rewrite_send(send))
        out.sends = sends
        return out

    def _sign_generic(self, msg: Signable) -> bytes:
        return self._signer.sign(msg.signing_bytes(self.config.chain_id))

    def _others(self) -> list[int]:
        return [i for i in self.config.validators() if i != self.index]

    def _split(self) -> tuple[list[int], list[int]]:
        others = self._others()
        self._rng.shuffle(others)
        half = len(others) // 2
        return others[:half], others[half:]

    def _rewrite_send(self, send: Send) -> list[Send]:
        msg = send.message
        extra: list[Send] = []
        if Behavior.EMPTY_CLAIMS in self.behaviors and isinstance(msg, PrepareVote):
            extra = self._empty_claim(msg.height, msg.round)
        if isinstance(msg, AuthVote):
            self._last_request = msg.request_id
            return [Send(send.to, self._auth_vote(msg))]
        if send.to is not None:
            return [send, *extra]
        if Behavior.DOUBLE_VOTES in self.behaviors and isinstance(msg, Vote):
            a, b = self._split()
            twin = self._twin_vote(msg)
            return [*(Send(i, msg) for i in a), *(Send(i, twin) for i in b), *extra]
        if Behavior.BAD_BLOCKS in self.behaviors and isinstance(msg, LeaderClaim):
            bad = self._bad_block_claim(msg)
            if bad is not None:
                return [Send(None, bad), *extra]
        if Behavior.CONFLICTING_PROPOSALS in self.behaviors and isinstance(msg, LeaderClaim):
            twin_proposal = self._twin_claim(msg)
            if twin_proposal is not None:
                a, b = self._split()
                return [*(Send(i, msg) for i in a), *(Send(i, twin_proposal) for i in b), *extra]
        return [send, *extra]

    def _auth_vote(self, vote: AuthVote) -> AuthVote:
        changed = vote
        if Behavior.FLIP_VOTES in self.behaviors:
            if vote.approve:
                changed = dataclasses.replace(vote, approve=False, share=b"")
            else:
                # It holds its re-key share, so it can make a correct share for a request
                # every honest node denies.
                request = self._request_of(vote.request_id)
                share = self._share_for(request.body) if request is not None else bytes(64)
                changed = dataclasses.replace(vote, approve=True, share=share)
        if changed.approve and Behavior.BAD_SHARES in self.behaviors:
            changed = dataclasses.replace(changed, share=_corrupt(changed.share, 0))
        elif changed.approve and Behavior.BAD_PROOFS in self.behaviors:
            changed = dataclasses.replace(changed, share=_corrupt(changed.share, -1))
        if changed == vote:
            return vote
        return self._sign_vote(changed)

    def _sign_vote(self, vote: AuthVote) -> AuthVote:
        signing = self._access_payload(
            self.config.chain_id, vote.request_id, vote.approve, vote.share
        )
        return dataclasses.replace(vote, signature=self._signer.sign(signing))

    def _twin_vote(self, vote: Vote) -> Vote:
        new_hash = None if vote.block_hash is not None else digest(b"sim/other-block")
        if isinstance(vote, PrepareVote):
            twin_p = dataclasses.replace(vote, block_hash=new_hash)
            return dataclasses.replace(twin_p, signature=self._sign_generic(twin_p))
        twin_c = dataclasses.replace(vote, block_hash=new_hash)
        if new_hash is None:
            signing = twin_c.signing_bytes(self.config.chain_id)
        else:
            signing = self._commit_payload(self.config.chain_id, vote.height, vote.round, new_hash)
        return dataclasses.replace(twin_c, signature=self._signer.sign(signing))

    def _bad_block_claim(self, proposal: LeaderClaim) -> LeaderClaim | None:
        """The same block with this node's approval in the first bundle carrying a bad share."""
        try:
            opened = self._app.open_block(proposal.height, proposal.block)
        except InvalidBlock:
            return None
        content = opened.content
        if not content.approved:
            return None
        first = content.approved[0]
        bad_share = _corrupt(self._share_for(first.request.body), 0)
        mine = self._sign_vote(AuthVote(first.request_id, self.index, True, bad_share, b""))
        others = tuple(v for v in first.votes if v.voter != self.index)
        bundle = dataclasses.replace(first, votes=(mine, *others))
        bad_content = dataclasses.replace(content, approved=(bundle, *content.approved[1:]))
        try:
            built = self._app.build_block(bad_content)
        except CryptoError:
            return None
        bad = dataclasses.replace(
            proposal, block=built.block, block_hash=built.block_hash, valid_round=NO_ROUND, polka=()
        )
        return dataclasses.replace(bad, signature=self._sign_generic(bad))

    def _twin_claim(self, proposal: LeaderClaim) -> LeaderClaim | None:
        try:
            opened = self._app.open_block(proposal.height, proposal.block)
        except InvalidBlock:
            return None
        content: BlockContent = dataclasses.replace(
            opened.content, timestamp=opened.content.timestamp + 1
        )
        built = self._app.build_block(content)
        twin = dataclasses.replace(
            proposal, block=built.block, block_hash=built.block_hash, valid_round=NO_ROUND
        )
        return dataclasses.replace(twin, signature=self._sign_generic(twin))

    def _empty_claim(self, height: int, round_: int) -> list[Send]:
        """A claim whose block approves a request with none of the shares it needs."""
        if (height, round_) in self._claimed or self._last_request is None:
            return []
        self._claimed.add((height, round_))
        request = self._request_of(self._last_request)
        if request is None:
            return []
        content = BlockContent(
            height, round_, self.index, 0, (DecidedRequest(request, ()),), (), ()
        )
        try:
            built = self._app.build_block(content)
        except (CryptoError, InvalidBlock):
            return []
        claim = LeaderClaim(
            height, round_, self.index, NO_ROUND, built.block_hash, built.block, (), b""
        )
        claim = dataclasses.replace(claim, signature=self._sign_generic(claim))
        return [Send(None, claim)]


def _corrupt(share: bytes, position: int) -> bytes:
    """Flip one byte: the first (the share value) or the last (its proof)."""
    if not share:
        return bytes(64)
    data = bytearray(share)
    data[position] ^= 0x01
    return bytes(data)
