"""The consensus node: a pure state machine (messages, timers and the time in; effects out).

Per height the node runs rounds. In each round (see docs/consensus.md for the argument):

1. Claim: a node holding enough verified shares (or denials, or batched transactions, or a block
   it saw prepared earlier) broadcasts a LeaderClaim. In round 0 any node may claim; later rounds
   accept only the round's preferred claimant, so split elections cannot repeat forever.
2. Election: each node votes once per round for the first valid claim it sees; a quorum of
   votes for one claim elects its claimant.
3. Proposal: the leader re-proposes the block it holds as ``valid`` (prepared by a quorum in an
   earlier round) or builds a new one through the application.
4. Prepare: a node prepares the proposal if it is valid and its lock allows; else prepares nil.
5. Commit vote: on a quorum of prepares for the proposal (a polka) the node locks on it and
   commit-votes it; a quorum of commit votes for one block in any round decides the height.

Timeouts make every round end; a node that leaves a round resends what others may have lost.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from consensus.app import Application, CommitPayload
from consensus.checks import Checker, VoteStatus
from consensus.config import ConsensusConfig
from consensus.encoding import NO_ROUND, ItemKind
from consensus.errors import InvalidBlock, InvalidMessage
from consensus.evidence import BadShare, Equivocation, Evidence
from consensus.messages import (
    BlockContent,
    CommittedBlock,
    LeaderClaim,
    Message,
    Proposal,
    Submission,
    SyncReply,
    SyncRequest,
)
from consensus.output import Output, Send, Timer, TimerKind, TraceEvent
from consensus.pool import ItemPool, ReadyContent
from consensus.rounds import Candidate, HeightState, Step, block_tally, voters_for
from consensus.safety import SafetyState
from consensus.signer import Signer, Verifier
from consensus.votes import AuthVote, CommitVote, ElectionVote, PrepareVote

_FUTURE_LIMIT = 4096
_SYNC_BATCH = 16
M = TypeVar("M", AuthVote, LeaderClaim, ElectionVote, Proposal, PrepareVote)

HeightMessage = LeaderClaim | ElectionVote | Proposal | PrepareVote | CommitVote


def _sender(msg: HeightMessage) -> int:
    if isinstance(msg, LeaderClaim):
        return msg.claimant
    if isinstance(msg, Proposal):
        return msg.leader
    return msg.voter


class ConsensusNode:
    """One validator's consensus logic. Not thread-safe; feed it inputs one at a time."""

    def __init__(
        self,
        config: ConsensusConfig,
        index: int,
        signer: Signer,
        checker: Checker,
        app: Application,
    ) -> None:
        if index not in config.validators():
            raise InvalidMessage(f"validator index {index} is not in 1..{config.n}")
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
        self._evidence_seen: set[bytes] = set()
        self.evidence: list[Evidence] = []
        self._local: list[Message] = []
        self._out = Output()
        self._now = 0.0
        self._restore(app.load_safety_state())

    def _restore(self, state: SafetyState | None) -> None:
        """Resume after a crash one round past the last one entered, keeping the lock."""
        if state is None or state.height != self.height:
            return
        hs = self._hs
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

    @classmethod
    def create(
        cls,
        config: ConsensusConfig,
        index: int,
        signer: Signer,
        verifier: Verifier,
        app: Application,
        commit_payload: CommitPayload,
    ) -> ConsensusNode:
        """Build a node with its own :class:`Checker`."""
        return cls(config, index, signer, Checker(config, verifier, app, commit_payload), app)

    # -- public inputs -------------------------------------------------------------------

    @property
    def round(self) -> int:
        return self._hs.round

    @property
    def locked(self) -> tuple[int, bytes | None]:
        return self._hs.locked_round, self._hs.locked_hash

    def start(self, now: float) -> Output:
        """Begin (or resume after a restart): ask peers for blocks we miss, arm the beacon."""
        self._begin(now)
        if self._hs.active:
            self._start_round(self._hs.round)
        self._send(None, SyncRequest(self.height, self.index))
        self._out.timers.append(
            Timer(TimerKind.STATUS, 0, 0, now + self.config.timeouts.status_interval)
        )
        return self._finish()

    def on_message(self, msg: Message, now: float) -> Output:
        """Handle a message from a peer or a client submission; bad input is dropped."""
        self._begin(now)
        self._dispatch(msg, local=False)
        return self._finish()

    def on_timer(self, timer: Timer, now: float) -> Output:
        """Handle a timer this node asked for earlier; stale timers do nothing."""
        self._begin(now)
        hs = self._hs
        if timer.kind is TimerKind.STATUS:
            self._send(None, SyncRequest(self.height, self.index))
            self._out.timers.append(
                Timer(TimerKind.STATUS, 0, 0, now + self.config.timeouts.status_interval)
            )
        elif timer.height != self.height or not hs.active or timer.round != hs.round:
            pass
        elif timer.kind is TimerKind.PROPOSE and hs.step == Step.WAIT_PROPOSAL:
            self._trace("timeout-propose")
            self._prepare(None)
        elif timer.kind is TimerKind.PREPARE and hs.step == Step.PREPARED:
            self._trace("timeout-prepare")
            self._commit_vote(None)
        elif timer.kind is TimerKind.COMMIT and hs.step == Step.COMMIT_VOTED:
            self._trace("timeout-commit")
            self._rebroadcast(hs.round)
            self._start_round(hs.round + 1)
        return self._finish()

    # -- plumbing ------------------------------------------------------------------------

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

    # -- dispatch ------------------------------------------------------------------------

    def _dispatch(self, msg: Message, local: bool) -> None:
        if isinstance(msg, Submission):
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
            self._serve_lagging(_sender(msg), msg.height)
        elif isinstance(msg, LeaderClaim):
            self._on_claim(msg, local)
        elif isinstance(msg, ElectionVote):
            self._on_election_vote(msg, local)
        elif isinstance(msg, Proposal):
            self._on_proposal(msg, local)
        elif isinstance(msg, PrepareVote):
            self._on_prepare_vote(msg, local)
        else:
            self._on_commit_vote(msg, local)

    def _signed(self, msg: HeightMessage | AuthVote, local: bool) -> bool:
        if local:
            return True
        if isinstance(msg, CommitVote):
            return self._checker.commit_vote_ok(msg)
        signing = msg.signing_bytes(self.config.chain_id)
        return self._checker.signed_by(_sender_any(msg), signing, msg.signature)

    def _activate(self) -> None:
        if not self._hs.active:
            self._hs.active = True
            self._start_round(self._hs.round)

    # -- client items and authorization votes --------------------------------------------

    def _on_submission(self, sub: Submission) -> None:
        ident = sub.item_id
        if ident in self.pool or self._app.is_committed(ident):
            return
        if sub.kind is ItemKind.TX:
            if not self._app.check_transaction(sub.body):
                return
            own_vote = None
        else:
            try:
                decision = self._app.authorize(sub.body)
            except InvalidMessage:
                return
            self._needed[ident] = max(self.config.quorum, decision.threshold)
            share = decision.share if decision.approve else b""
            own_vote = self._sign(AuthVote(ident, self.index, decision.approve, share, b""))
        stashed = self.pool.add(sub, self._now)
        self._send(None, sub)
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
        status = VoteStatus.OK if local else self._checker.auth_vote(request, vote)
        if status is VoteStatus.BAD_SHARE:
            self._report(BadShare(vote))
            return
        if status is not VoteStatus.OK:
            return
        if earlier is not None:
            # A second approval with another (valid) share is a restarted node re-deciding:
            # share proofs are randomised. Only opposite decisions are equivocation.
            if earlier.approve != vote.approve:
                self._equivocation(vote.voter, NO_ROUND, earlier.to_bytes(), vote.to_bytes())
            return
        self.pool.add_vote(vote)

    # -- height messages -----------------------------------------------------------------

    def _on_claim(self, claim: LeaderClaim, local: bool) -> None:
        hs = self._hs
        if claim.round < hs.round or not self._signed(claim, local):
            return
        key = (claim.round, claim.claimant)
        earlier = hs.claim_from.get(key)
        if earlier is not None:
            if earlier != claim:
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
        hs.claim_from[key] = claim
        hs.claims.setdefault(claim.round, []).append(claim)
        self._activate()

    def _on_election_vote(self, vote: ElectionVote, local: bool) -> None:
        if not self._signed(vote, local):
            return
        earlier = self._hs.election.add(vote)
        if earlier is not None:
            self._equivocation(vote.voter, vote.round, earlier.to_bytes(), vote.to_bytes())
        self._note_round(vote.round, vote.voter)
        self._activate()

    def _on_proposal(self, proposal: Proposal, local: bool) -> None:
        hs = self._hs
        r = proposal.round
        if proposal.valid_round != NO_ROUND and proposal.valid_round >= r:
            return
        if not self._signed(proposal, local):
            return
        if not self._checker.election_qc_ok(self.height, r, proposal.leader, proposal.election_qc):
            return
        earlier = hs.proposals.get(r)
        if earlier is not None:
            if earlier != proposal:
                self._equivocation(proposal.leader, r, earlier.to_bytes(), proposal.to_bytes())
            return
        for vote in proposal.polka:
            if (vote.height, vote.round) == (self.height, proposal.valid_round):
                self._on_prepare_vote(vote, local=False)
        hs.proposals[r] = proposal
        hs.leaders.setdefault(r, (proposal.leader, proposal.election_qc))
        self._activate()

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

    # -- catching up ---------------------------------------------------------------------

    def _hold_future(self, msg: HeightMessage) -> None:
        if len(self._future) < _FUTURE_LIMIT:
            self._future.append(msg)
        sender = _sender(msg)
        if sender not in self._hs.sync_asked and sender != self.index:
            self._hs.sync_asked.add(sender)
            self._send(sender, SyncRequest(self.height, self.index))

    def _serve_lagging(self, peer: int, height: int) -> None:
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

    # -- the round rules -----------------------------------------------------------------

    def _progress(self) -> bool:
        """Apply every rule whose condition holds; True if anything changed."""
        if not self._hs.active:
            return False
        if self._maybe_decide():
            return True
        acted = self._maybe_skip_round()
        acted = self._maybe_elect() or acted
        acted = self._maybe_propose() or acted
        acted = self._maybe_prepare() or acted
        acted = self._maybe_lock() or acted
        acted = self._maybe_commit_nil() or acted
        return acted

    def _start_round(self, round_: int) -> None:
        hs = self._hs
        hs.round = round_
        hs.step = Step.WAIT_PROPOSAL
        hs.skip_senders = {r: s for r, s in hs.skip_senders.items() if r > round_}
        self._persist()
        self._trace("round")
        self._set_timer(TimerKind.PROPOSE, self.config.timeouts.propose_timeout(round_))

    def _maybe_skip_round(self) -> bool:
        hs = self._hs
        ahead = [r for r, s in hs.skip_senders.items() if len(s) >= self.config.skip_threshold]
        if not ahead:
            return False
        self._start_round(max(ahead))
        return True

    def _ready_content(self) -> ReadyContent:
        oldest = self.pool.oldest_tx_time()
        batch_due = oldest is not None and self._now >= oldest + self.config.timeouts.batch_delay
        return self.pool.ready(self.config.quorum, self._needed, batch_due, self.config.max_items)

    def _maybe_elect(self) -> bool:
        hs = self._hs
        r = hs.round
        if hs.step != Step.WAIT_PROPOSAL or hs.election.get(r, self.index) is not None:
            return False
        candidates = hs.claims.get(r, [])
        if not candidates:
            return self._maybe_claim()
        choice = candidates[0]
        vote = ElectionVote(self.height, r, self.index, choice.claimant, choice.claim_hash(), b"")
        self._broadcast(self._sign(vote))
        self._trace("elect-vote", f"for n{choice.claimant}")
        return True

    def _maybe_claim(self) -> bool:
        hs = self._hs
        r = hs.round
        if r > 0 and self.config.preferred_claimant(self.height, r) != self.index:
            return False
        if (r, self.index) in hs.claim_from:
            return False
        content = self._ready_content()
        has_valid = hs.valid_hash is not None and hs.valid_hash in hs.blocks
        valid_round = hs.valid_round if has_valid else NO_ROUND
        if content.is_empty() and valid_round == NO_ROUND:
            return False
        claim = LeaderClaim(
            self.height,
            r,
            self.index,
            valid_round,
            content.approved,
            content.denied,
            content.tx_ids(),
            b"",
        )
        self._broadcast(self._sign(claim))
        self._trace(
            "claim",
            f"{len(content.approved)} approved, {len(content.denied)} denied, "
            f"{len(content.txs)} txs, valid_round {valid_round}",
        )
        return True

    def _maybe_propose(self) -> bool:
        hs = self._hs
        r = hs.round
        if hs.step != Step.WAIT_PROPOSAL or r in hs.election_done:
            return False
        leader = hs.elected(r, self.config.quorum)
        if leader is None:
            return False
        self._trace("elected", f"n{leader[0]}")
        hs.election_done.add(r)
        if leader[0] != self.index:
            return True
        qc = leader[1]
        valid = hs.blocks.get(hs.valid_hash) if hs.valid_hash is not None else None
        if valid is not None and hs.valid_hash is not None:
            block, block_hash, valid_round = valid.block, hs.valid_hash, hs.valid_round
        else:
            content = self._ready_content()
            if content.is_empty():
                self._trace("nothing-to-propose")
                return True
            built = self._app.build_block(
                BlockContent(
                    self.height,
                    r,
                    self.index,
                    int(self._now * 1000),
                    qc,
                    content.approved,
                    content.denied,
                    content.txs,
                )
            )
            block, block_hash, valid_round = built.block, built.block_hash, NO_ROUND
        polka: tuple[PrepareVote, ...] = ()
        if valid_round != NO_ROUND:
            votes = hs.prepares.of(valid_round)
            polka = tuple(votes[i] for i in voters_for(votes, block_hash))
        proposal = Proposal(
            self.height, r, self.index, valid_round, block_hash, block, qc, polka, b""
        )
        self._broadcast(self._sign(proposal))
        self._trace("propose", f"{block_hash.hex()[:8]} valid_round {valid_round}")
        return True

    def _block_valid(self, proposal: Proposal) -> bool:
        hs = self._hs
        if proposal.block_hash in hs.blocks:
            return hs.blocks[proposal.block_hash].block == proposal.block
        if proposal.block in hs.bad_blocks:
            return False
        try:
            opened = self._app.open_block(self.height, proposal.block)
        except InvalidBlock:
            opened = None
        if (
            opened is None
            or opened.block_hash != proposal.block_hash
            or not self._checker.content_ok(self.height, opened.content)
        ):
            hs.bad_blocks.add(proposal.block)
            self._trace("bad-block", f"from n{proposal.leader}")
            return False
        hs.blocks[proposal.block_hash] = Candidate(proposal.block, opened.content)
        return True

    def _has_polka(self, round_: int, block_hash: bytes | None) -> bool:
        return block_tally(self._hs.prepares.of(round_))[block_hash] >= self.config.quorum

    def _lock_allows(self, block_hash: bytes, valid_round: int) -> bool:
        """The locking rule: a locked node prepares only its locked block, unless the proposal
        carries a polka from a round at or after the lock (which unlocks it)."""
        hs = self._hs
        return hs.locked_round <= valid_round or hs.locked_hash == block_hash

    def _maybe_prepare(self) -> bool:
        hs = self._hs
        proposal = hs.proposals.get(hs.round)
        if hs.step != Step.WAIT_PROPOSAL or proposal is None:
            return False
        vr = proposal.valid_round
        if vr != NO_ROUND and not self._has_polka(vr, proposal.block_hash):
            return False  # wait for the polka it cites, or for the timeout
        ok = self._block_valid(proposal) and self._lock_allows(proposal.block_hash, vr)
        self._prepare(proposal.block_hash if ok else None)
        return True

    def _prepare(self, block_hash: bytes | None) -> None:
        hs = self._hs
        self._broadcast(self._sign(PrepareVote(self.height, hs.round, self.index, block_hash, b"")))
        hs.step = Step.PREPARED
        self._trace("prepare", block_hash.hex()[:8] if block_hash else "nil")
        self._set_timer(TimerKind.PREPARE, self.config.timeouts.prepare_timeout(hs.round))

    def _maybe_lock(self) -> bool:
        hs = self._hs
        r = hs.round
        proposal = hs.proposals.get(r)
        if hs.step == Step.WAIT_PROPOSAL or proposal is None or r in hs.polka_seen:
            return False
        if not self._has_polka(r, proposal.block_hash) or not self._block_valid(proposal):
            return False
        hs.polka_seen.add(r)
        if hs.step == Step.PREPARED:
            hs.locked_round, hs.locked_hash = r, proposal.block_hash
            self._persist()
            self._trace("lock", proposal.block_hash.hex()[:8])
            self._commit_vote(proposal.block_hash)
        hs.valid_round, hs.valid_hash = r, proposal.block_hash
        return True

    def _maybe_commit_nil(self) -> bool:
        hs = self._hs
        if hs.step != Step.PREPARED or not self._has_polka(hs.round, None):
            return False
        self._commit_vote(None)
        return True

    def _commit_vote(self, block_hash: bytes | None) -> None:
        hs = self._hs
        vote = CommitVote(self.height, hs.round, self.index, block_hash, b"")
        signing = self._checker.commit_signing_bytes(vote)
        self._broadcast(dataclasses.replace(vote, signature=self._signer.sign(signing)))
        hs.step = Step.COMMIT_VOTED
        self._trace("commit-vote", block_hash.hex()[:8] if block_hash else "nil")
        self._set_timer(TimerKind.COMMIT, self.config.timeouts.commit_timeout(hs.round))

    def _maybe_decide(self) -> bool:
        hs = self._hs
        for r in hs.commits.rounds():
            votes = hs.commits.of(r)
            for block_hash, count in block_tally(votes).items():
                if block_hash is None or count < self.config.quorum:
                    continue
                candidate = self._candidate(block_hash)
                if candidate is None:
                    continue  # the block arrives by sync once a signer has committed it
                signers = tuple(voters_for(votes, block_hash))
                sigs = tuple(votes[i].signature for i in signers)
                decided = CommittedBlock(self.height, r, block_hash, candidate.block, signers, sigs)
                self._commit(decided, candidate.content)
                return True
        return False

    def _candidate(self, block_hash: bytes) -> Candidate | None:
        hs = self._hs
        if block_hash not in hs.blocks:
            for proposal in hs.proposals.values():
                if proposal.block_hash == block_hash:
                    self._block_valid(proposal)
        return hs.blocks.get(block_hash)

    def _commit(self, block: CommittedBlock, content: BlockContent) -> None:
        self._app.commit(block)
        self._out.commits.append(block)
        self._trace("commit", f"{block.block_hash.hex()[:8]} in round {block.round}")
        ids = content.item_ids()
        self.pool.remove(ids)
        for ident in ids:
            self._needed.pop(ident, None)
        self.height += 1
        self._hs = HeightState(self.height)
        self._served.clear()
        held, self._future = self._future, []
        for msg in held:
            self._dispatch(msg, local=False)
        if len(self.pool):
            self._activate()

    def _rebroadcast(self, round_: int) -> None:
        """Resend what peers may have lost before leaving ``round_``."""
        hs = self._hs
        for sub in self.pool.items():
            self._send(None, sub)
        for vote in self.pool.votes_of(self.index):
            self._send(None, vote)
        proposal = hs.proposals.get(round_)
        if proposal is not None and proposal.leader == self.index:
            self._send(None, proposal)
        for book in (hs.prepares, hs.commits):
            own = book.get(round_, self.index)
            if own is not None:
                self._send(None, own)


def _sender_any(msg: HeightMessage | AuthVote) -> int:
    if isinstance(msg, AuthVote):
        return msg.voter
    return _sender(msg)
