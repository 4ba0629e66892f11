"""A consensus node's state and everything around the round rules.

:class:`NodeBase` holds the per-height state, turns inputs into checked, recorded facts (client
items, authorization votes, claims with their blocks, votes), keeps evidence of double-signing
and bad shares, catches a lagging node up through blocks with commit QCs, and survives
restarts through the saved :class:`~consensus.safety.SafetyState`. The rules that act on those
facts live in :class:`consensus.machine.ConsensusNode`.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from consensus.app import Application
from consensus.checks import Checker, VoteStatus
from consensus.config import ConsensusConfig
from consensus.encoding import NO_ROUND, ItemKind
from consensus.errors import ConfigError, InvalidBlock, InvalidMessage
from consensus.evidence import BadShare, Equivocation, Evidence
from consensus.item import Item
from consensus.messages import (
    BlockContent,
    CommittedBlock,
    LeaderClaim,
    Message,
    Submission,
    SyncReply,
    SyncRequest,
)
from consensus.output import Output, Send, Timer, TimerKind, TraceEvent
from consensus.pool import ItemPool
from consensus.rounds import Candidate, HeightState, Step
from consensus.safety import SafetyState
from consensus.signer import Signer
from consensus.votes import AuthVote, CommitVote, PrepareVote

_FUTURE_LIMIT = 4096
_SYNC_BATCH = 16
M = TypeVar("M", LeaderClaim, PrepareVote)

HeightMessage = LeaderClaim | PrepareVote | CommitVote


def _sender(msg: HeightMessage) -> int:
    if isinstance(msg, LeaderClaim):
        return msg.claimant
    return msg.voter


class NodeBase:
    """State, message intake and catch-up of one validator (see :class:`ConsensusNode`)."""

    def __init__(
        self,
        config: ConsensusConfig,
        index: int,
        signer: Signer,
        checker: Checker,
        app: Application,
    ) -> None:
        if index not in config.validators():
            raise ConfigError(f"validator index {index} is not in 1..{config.n}")
        self.config = config
        self.index = index
        self._signer = signer
        self._checker = checker
        self._app = app
        self.pool = ItemPool()
        self.height = app.committed_height() + 1
        self._hs = HeightState(self.height)
        self._needed: dict[bytes, int] = {}
        self._future: list[HeightMessage] = []
        self._served: set[tuple[int, int]] = set()
        # (height, round) of the last block this node committed (see _serve_lagging).
        self._decided_in: tuple[int, int] | None = None
        self._evidence_seen: set[bytes] = set()
        self.evidence: list[Evidence] = []
        self._local: list[Message] = []
        self._out = Output()
        self._now = 0.0
        # A saved state of a height the ledger has not reached (see _restore).
        self._saved_ahead: SafetyState | None = None
        self._restore(app.load_safety_state())

    def _restore(self, state: SafetyState | None) -> None:
        """Resume after a crash one round past the last one entered, keeping the lock.

        Round 0 of a height is entered without a save (:meth:`_start_round`), so a node whose
        saved state is of an earlier height may have signed in round 0 of this one: it resumes
        in round 1, still waiting for work. A node with no saved state has never signed
        anything; it saves round 0 of its height now, before it can. A saved state of a later
        height means the ledger lost blocks this node had committed (restored from a backup):
        it may have signed at every height up to the saved one, so it signs nothing until its
        ledger gets there again by catch-up, and then resumes as saved.
        """
        hs = self._hs
        if state is None:
            self._persist()
            return
        if state.height > self.height:
            self._saved_ahead = state
            return
        if state.height < self.height:
            hs.round = 1
            return
        hs.round = state.round + 1
        hs.active = True
        if state.locked_hash is None:
            return
        hs.locked_round, hs.locked_hash = state.locked_round, state.locked_hash
        try:
            opened = self._app.open_block(self.height, state.locked_block)
        except InvalidBlock:
            return
        if opened.block_hash == state.locked_hash:
            hs.blocks[state.locked_hash] = Candidate(state.locked_block, opened.content)
            hs.valid_round, hs.valid_hash = state.locked_round, state.locked_hash

    def _persist(self) -> None:
        hs = self._hs
        locked = hs.blocks.get(hs.locked_hash) if hs.locked_hash is not None else None
        state = SafetyState(
            self.height,
            hs.round,
            hs.locked_round,
            hs.locked_hash,
            locked.block if locked is not None else b"",
        )
        self._app.save_safety_state(state)

    def _begin(self, now: float) -> None:
        self._now = now
        self._out = Output()

    def _finish(self) -> Output:
        while True:
            while self._local:
                self._dispatch(self._local.pop(0), local=True)
            if not self._progress() and not self._local:
                break
        return self._out

    def _trace(self, kind: str, detail: str = "") -> None:
        event = TraceEvent(self._now, self.index, self.height, self._hs.round, kind, detail)
        self._out.trace.append(event)

    def _send(self, to: int | None, msg: Message) -> None:
        self._out.sends.append(Send(to, msg))

    def _broadcast(self, msg: Message) -> None:
        """Send to everyone and handle our own copy as if it came back from the network."""
        self._send(None, msg)
        self._local.append(msg)

    def _sign(self, msg: M) -> M:
        signature = self._signer.sign(msg.signing_bytes(self.config.chain_id))
        return dataclasses.replace(msg, signature=signature)

    def _set_timer(self, kind: TimerKind, delay: float) -> None:
        hs = self._hs
        key = (int(kind), hs.round)
        if key not in hs.timers:
            hs.timers.add(key)
            self._out.timers.append(Timer(kind, self.height, hs.round, self._now + delay))

    def _report(self, evidence: Evidence) -> None:
        key = evidence.to_bytes()
        if key not in self._evidence_seen:
            self._evidence_seen.add(key)
            self.evidence.append(evidence)
            self._out.evidence.append(evidence)
            self._trace("evidence", f"{type(evidence).__name__} by n{evidence.offender}")

    def _equivocation(self, offender: int, round_: int, first: bytes, second: bytes) -> None:
        self._report(Equivocation(offender, self.height, round_, first, second))

    def _dispatch(self, msg: Message | Item, local: bool) -> None:
        if isinstance(msg, Item):
            self._on_item(msg)
        elif isinstance(msg, Submission):
            self._on_submission(msg)
        elif isinstance(msg, AuthVote):
            self._on_auth_vote(msg, local)
        elif isinstance(msg, SyncRequest):
            self._on_sync_request(msg)
        elif isinstance(msg, SyncReply):
            self._on_sync_reply(msg)
        elif msg.height > self.height:
            self._hold_future(msg)
        elif msg.height < self.height:
            if (msg.height, msg.round) != self._decided_in:
                self._serve_lagging(_sender(msg), msg.height)
        elif isinstance(msg, LeaderClaim):
            self._on_claim(msg, local)
        elif isinstance(msg, PrepareVote):
            self._on_prepare_vote(msg, local)
        else:
            self._on_commit_vote(msg, local)

    def _signed(self, msg: HeightMessage, local: bool) -> bool:
        if local:
            return True
        if isinstance(msg, CommitVote):
            return self._checker.commit_vote_ok(msg)
        signing = msg.signing_bytes(self.config.chain_id)
        return self._checker.signed_by(_sender(msg), signing, msg.signature)

    def proves_height(self, msg: Message) -> bool:
        """Whether a peer's ``msg`` proves the height it names was reached: a validator's
        signed height message, or a sync reply whose last block carries a valid commit QC.
        A node judges whether it lags behind by these only, so that an unsigned frame cannot
        make it believe it is far behind."""
        if isinstance(msg, SyncReply):
            return bool(msg.blocks) and self._checker.commit_qc_ok(msg.blocks[-1])
        if isinstance(msg, LeaderClaim | PrepareVote | CommitVote):
            return self._signed(msg, local=False)
        return False

    def _activate(self) -> None:
        if self._saved_ahead is not None:
            return  # catching up to the height of the saved state (_restore)
        if not self._hs.active:
            self._hs.active = True
            self._start_round(self._hs.round)

    def _start_round(self, round_: int) -> None:
        hs = self._hs
        hs.round = round_
        hs.step = Step.WAIT_PROPOSAL
        hs.skip_senders = {r: s for r, s in hs.skip_senders.items() if r > round_}
        # Round 0 needs no save: a restart resumes in round 1 unless the saved state is of this
        # height (_restore). That keeps a write to disk (an fsync in the node) out of the
        # step that first sees a new height's work, where the node also makes its share.
        if round_ > 0:
            self._persist()
        self._trace("round")
        self._set_timer(TimerKind.PROPOSE, self.config.timeouts.propose_timeout(round_))

    def _on_submission(self, sub: Submission) -> None:
        """A peer relayed an item: the application decodes and names it."""
        try:
            item = self._app.decode_item(sub.kind, sub.body)
        except InvalidMessage:
            return
        self._on_item(item)

    def _on_item(self, item: Item) -> None:
        ident = item.item_id
        if ident in self.pool or self._app.is_committed(ident):
            return
        if item.kind is ItemKind.TX:
            if not self._app.check_transaction(item):
                return
            own_vote = None
        else:
            try:
                decision = self._app.authorize(item)
            except InvalidMessage:
                return
            self._needed[ident] = max(self.config.quorum, decision.threshold)
            share = decision.share if decision.approve else b""
            signing = self._checker.access_signing_bytes(ident, decision.approve, share)
            signature = self._signer.sign(signing)
            own_vote = AuthVote(ident, self.index, decision.approve, share, signature)
        stashed = self.pool.add(item, self._now)
        self._send(None, Submission.of(item))
        if own_vote is not None:
            self.pool.add_vote(own_vote)
            self._send(None, own_vote)
        else:
            self._out.timers.append(
                Timer(TimerKind.BATCH, self.height, 0, self._now + self.config.timeouts.batch_delay)
            )
        for vote in stashed:
            self._on_auth_vote(vote, local=False)
        self._activate()

    def _on_auth_vote(self, vote: AuthVote, local: bool) -> None:
        if self._app.is_committed(vote.request_id):
            return
        request = self.pool.request(vote.request_id)
        if request is None:
            self.pool.stash(vote)
            return
        earlier = self.pool.vote_of(vote.request_id, vote.voter)
        if earlier == vote:
            return
        # A peer's share is checked later (idle time, or a block needing it): _check_vote.
        known = None if local else self._checker.known_status(vote)
        if known is None and not local:
            status = self._checker.auth_vote_signed(request, vote)
        else:
            status = known or VoteStatus.OK
        if status is VoteStatus.BAD_SHARE:
            self._report(BadShare(vote))
            return
        if status is not VoteStatus.OK:
            return
        if earlier is not None:
            # A second approval with another share is a restarted node re-deciding: share
            # proofs are randomised. Only opposite decisions are equivocation; the approval's
            # share is checked at once then (a voter that lies once may lie twice).
            if earlier.approve != vote.approve:
                if vote.approve:
                    if self._checker.auth_vote(request, vote) is VoteStatus.BAD_SHARE:
                        self._report(BadShare(vote))
                elif not self.pool.is_checked(earlier):
                    self._check_vote(earlier)
                self._equivocation(vote.voter, NO_ROUND, earlier.to_bytes(), vote.to_bytes())
            return
        self.pool.add_vote(vote, checked=local or known is not None or not vote.approve)

    def _check_vote(self, vote: AuthVote) -> bool:
        """Check an unchecked approval's share; a bad one leaves the pool as evidence."""
        request = self.pool.request(vote.request_id)
        status = (
            VoteStatus.WRONG_REQUEST if request is None else self._checker.auth_vote(request, vote)
        )
        if status is VoteStatus.OK:
            self.pool.mark_checked(vote)
            return True
        self.pool.drop_vote(vote)
        if status is VoteStatus.BAD_SHARE:
            self._report(BadShare(vote))
        return False

    def _on_claim(self, claim: LeaderClaim, local: bool) -> None:
        """Keep a signed claim from an allowed claimant. Its block is opened only when the node
        is about to vote on it or sees it prepared, since in round 0 several nodes may claim."""
        hs = self._hs
        if claim.round < hs.round:
            return
        key = (claim.round, claim.claimant)
        earlier = hs.claim_from.get(key)
        if earlier is not None:
            if earlier != claim and (local or self._checker.claim_ok(claim)):
                self._equivocation(
                    claim.claimant, claim.round, earlier.to_bytes(), claim.to_bytes()
                )
            return
        preferred = self.config.preferred_claimant(self.height, claim.round)
        if claim.round > 0 and claim.claimant != preferred:
            return
        if not local and not self._checker.claim_ok(claim):
            self._trace("bad-claim", f"from n{claim.claimant}")
            return
        self._take_polka(claim)
        hs.claim_from[key] = claim
        hs.claims.setdefault(claim.round, []).append(claim)
        self._activate()

    def _take_polka(self, claim: LeaderClaim) -> None:
        """Record the prepares a re-proposing claim carries. A quorum of them, signed, for its
        block at its ``valid_round`` proves that polka even to a node whose vote book kept
        another vote of an equivocating voter in that round."""
        cited = (self.height, claim.valid_round, claim.block_hash)
        voters = set()
        for vote in claim.polka:
            if (vote.height, vote.round) != cited[:2]:
                continue
            self._on_prepare_vote(vote, local=False)
            if vote.block_hash == claim.block_hash and self._signed(vote, local=False):
                voters.add(vote.voter)
        if len(voters) >= self.config.quorum:
            self._hs.proven_polkas.add(cited[1:])

    def _on_prepare_vote(self, vote: PrepareVote, local: bool) -> None:
        if not self._signed(vote, local):
            return
        earlier = self._hs.prepares.add(vote)
        if earlier is not None:
            self._equivocation(vote.voter, vote.round, earlier.to_bytes(), vote.to_bytes())
        self._note_round(vote.round, vote.voter)
        self._activate()

    def _on_commit_vote(self, vote: CommitVote, local: bool) -> None:
        if not self._signed(vote, local):
            return
        earlier = self._hs.commits.add(vote)
        if earlier is not None:
            self._equivocation(vote.voter, vote.round, earlier.to_bytes(), vote.to_bytes())
        self._note_round(vote.round, vote.voter)
        self._activate()

    def _note_round(self, round_: int, sender: int) -> None:
        if round_ > self._hs.round:
            self._hs.skip_senders.setdefault(round_, set()).add(sender)

    def _hold_future(self, msg: HeightMessage) -> None:
        # Only the next height is worth keeping: anything further needs a sync first, and a
        # faulty peer must not be able to fill the buffer with far-future junk.
        if msg.height == self.height + 1 and len(self._future) < _FUTURE_LIMIT:
            self._future.append(msg)
        sender = _sender(msg)
        if sender not in self._hs.sync_asked and sender != self.index:
            self._hs.sync_asked.add(sender)
            self._send(sender, SyncRequest(self.height, self.index))

    def _serve_lagging(self, peer: int, height: int) -> None:
        """Send committed blocks to a peer whose message names an earlier height. Not for a
        message of the very round this node committed in (``_dispatch``): such a sender is
        most likely a step behind, its votes crossing ours, and commits from the votes on
        their way; serving it would send every peer the block again at every height. A sender
        really stuck there moves to a later round when its round times out (or asks, every
        status interval) and is served then."""
        if peer == self.index or (peer, height) in self._served:
            return
        self._served.add((peer, height))
        self._reply_blocks(peer, height)

    def _reply_blocks(self, peer: int, from_height: int) -> None:
        last = min(self._app.committed_height(), from_height + _SYNC_BATCH - 1)
        blocks = []
        for h in range(max(from_height, 1), last + 1):
            block = self._app.committed_block(h)
            if block is None:
                break
            blocks.append(block)
        if blocks:
            self._send(peer, SyncReply(tuple(blocks)))

    def _on_sync_request(self, msg: SyncRequest) -> None:
        if msg.requester != self.index and msg.from_height <= self._app.committed_height():
            self._reply_blocks(msg.requester, msg.from_height)

    def _on_sync_reply(self, msg: SyncReply) -> None:
        for block in msg.blocks:
            if block.height < self.height:
                continue
            if block.height > self.height or not self._checker.commit_qc_ok(block):
                return
            try:
                opened = self._app.open_block(self.height, block.block)
            except InvalidBlock:
                return
            if opened.block_hash != block.block_hash:
                return
            if not self._checker.content_ok(self.height, opened.content):
                return
            self._trace("synced", block.block_hash.hex()[:8])
            self._commit(block, opened.content)

    def _commit(self, block: CommittedBlock, content: BlockContent) -> None:
        self._app.commit(block)
        self._out.commits.append(block)
        self._trace("commit", f"{block.block_hash.hex()[:8]} in round {block.round}")
        ids = content.item_ids()
        self.pool.remove(ids)
        for ident in ids:
            self._needed.pop(ident, None)
        self._decided_in = (block.height, block.round)
        self.height += 1
        self._hs = HeightState(self.height)
        if self._saved_ahead is not None and self._saved_ahead.height == self.height:
            saved, self._saved_ahead = self._saved_ahead, None
            self._restore(saved)
            self._start_round(self._hs.round)
        self._served.clear()
        held, self._future = self._future, []
        for msg in held:
            self._dispatch(msg, local=False)
        if len(self.pool):
            self._activate()

    def _rebroadcast(self, round_: int) -> None:
        """Resend what peers may have lost before leaving ``round_``."""
        hs = self._hs
        for item in self.pool.items():
            self._send(None, Submission.of(item))
        for vote in self.pool.votes_of(self.index):
            self._send(None, vote)
        claim = hs.claim_from.get((round_, self.index))
        if claim is not None:
            self._send(None, claim)
        for book in (hs.prepares, hs.commits):
            own = book.get(round_, self.index)
            if own is not None:
                self._send(None, own)

    def _progress(self) -> bool:
        """Apply the round rules (defined by the subclass); True if anything changed."""
        raise NotImplementedError
