"""The consensus node: a pure state machine (messages, timers and the time in; effects out).

Per height the node runs rounds, three message hops each (see docs/consensus.md for the
argument):

1. Claim and propose: a node holding enough verified shares (or denials, or batched
   transactions) builds a block through the application, or takes the block it saw prepared by
   a quorum in an earlier round (``valid``), and broadcasts a LeaderClaim carrying it. In round
   0 any node may claim; later rounds accept only the round's preferred claimant, so split
   elections cannot repeat forever.
2. Elect and prepare: each node votes once per round, for the first claim it sees whose block
   is valid, with a prepare vote for that block if its lock allows, else nil. A quorum of
   prepares for one block (a polka) elects its claimant and prepares the block at once.
3. Commit vote: on a polka the node locks on the block and commit-votes it; a quorum of commit
   votes for one block in any round decides the height.

Timeouts make every round end; a node that leaves a round resends what others may have lost.
"""

from __future__ import annotations

import dataclasses

from consensus.app import AccessPayload, Application, BuiltBlock, CommitPayload
from consensus.base import NodeBase
from consensus.checks import Checker
from consensus.config import ConsensusConfig
from consensus.encoding import NO_ROUND
from consensus.errors import InvalidBlock
from consensus.item import Item
from consensus.messages import (
    BlockContent,
    CommittedBlock,
    LeaderClaim,
    Message,
    SyncRequest,
)
from consensus.output import Output, Timer, TimerKind
from consensus.pool import ReadyContent
from consensus.rounds import Candidate, Step, block_tally, voters_for
from consensus.signer import Signer, Verifier
from consensus.votes import AuthVote, CommitVote, PrepareVote


class ConsensusNode(NodeBase):
    """One validator's consensus logic. Not thread-safe; feed it inputs one at a time."""

    @classmethod
    def create(
        cls,
        config: ConsensusConfig,
        index: int,
        signer: Signer,
        verifier: Verifier,
        app: Application,
        commit_payload: CommitPayload,
        access_payload: AccessPayload,
    ) -> ConsensusNode:
        """Build a node with its own :class:`Checker`.

        ``commit_payload`` and ``access_payload`` are the ledger's ``commit_vote_payload`` and
        ``access_vote_payload``, so that commit QCs and the votes inside blocks are exactly what
        the ledger verifies.
        """
        checker = Checker(config, verifier, app, commit_payload, access_payload)
        return cls(config, index, signer, checker, app)

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

    def on_message(self, msg: Message | Item, now: float) -> Output:
        """Handle a message from a peer, or a client's item the application decoded at the
        edge (an :class:`Item`); bad input is dropped."""
        self._begin(now)
        self._dispatch(msg, local=False)
        return self._finish()

    @property
    def idle_work(self) -> bool:
        """Whether :meth:`on_idle` has something to do."""
        return self._share_to_check() is not None

    def on_idle(self, now: float) -> Output:
        """The node has no input waiting: check a peer share that arrived unchecked, so that a
        claim or block carrying it later costs nothing then. Only requests with fewer checked
        approvals than a block takes are looked at, the round's preferred claimant's share
        first (its block carries its own share), then the oldest. A node that never idles
        (under load) checks only the shares of the blocks it builds or votes on, and those of
        a voter that also denied (equivocation); another bad share no block needed leaves with
        its request unreported. It is not checked after the decision: by then the grant it was
        made under may have changed, and an honest share would look bad."""
        self._begin(now)
        vote = self._share_to_check()
        if vote is not None:
            self._check_vote(vote)
        return self._finish()

    def _share_to_check(self) -> AuthVote | None:
        first = self.config.preferred_claimant(self.height, self._hs.round)
        return self.pool.worth_checking(self._needed, first)

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

    def _progress(self) -> bool:
        """Apply every rule whose condition holds; True if anything changed."""
        if not self._hs.active:
            return False
        if self._maybe_decide():
            return True
        acted = self._maybe_skip_round()
        acted = self._maybe_prepare() or acted
        acted = self._maybe_lock() or acted
        acted = self._maybe_commit_nil() or acted
        return acted

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

    def _maybe_claim(self) -> bool:
        """Claim the round with a block: the valid block if there is one (re-proposed with its
        polka), else a new block of what is ready."""
        hs = self._hs
        r = hs.round
        if r > 0 and self.config.preferred_claimant(self.height, r) != self.index:
            return False
        if (r, self.index) in hs.claim_from:
            return False
        valid_hash = hs.valid_hash
        valid = hs.blocks.get(valid_hash) if valid_hash is not None else None
        content = self._ready_content() if valid is None else None
        if content is not None and content.is_empty():
            return False
        if r == 0 and not self._stagger_elapsed():
            return False
        if content is not None:
            content = self._checked(content)
            if content.is_empty():
                return False
        if valid is not None and valid_hash is not None:
            block, block_hash, valid_round = valid.block, valid_hash, hs.valid_round
            votes = hs.prepares.of(valid_round)
            polka = tuple(votes[i] for i in voters_for(votes, block_hash))
        else:
            built = self._build(content) if content is not None else None
            if built is None:
                return False
            block, block_hash, valid_round, polka = built.block, built.block_hash, NO_ROUND, ()
        claim = LeaderClaim(self.height, r, self.index, valid_round, block_hash, block, polka, b"")
        self._broadcast(self._sign(claim))
        self._trace("claim", f"{block_hash.hex()[:8]} valid_round {valid_round}")
        return True

    def _checked(self, content: ReadyContent) -> ReadyContent:
        """``content`` once every approval it carries has had its share checked: unchecked
        ones are checked now (bad ones leave the pool, and the content is gathered again)."""
        while True:
            unchecked = [
                vote
                for decided in content.approved
                for vote in decided.votes
                if not self.pool.is_checked(vote)
            ]
            if not unchecked:
                return content
            if not all([self._check_vote(vote) for vote in unchecked]):
                content = self._ready_content()

    def _build(self, content: ReadyContent) -> BuiltBlock | None:
        """A new block of ``content``, once per round and set of items (a failed build is not
        retried until something changes)."""
        hs = self._hs
        key = (hs.round, content.item_ids())
        if key in hs.built:
            return None
        hs.built.add(key)
        built = self._app.build_block(
            BlockContent(
                self.height,
                hs.round,
                self.index,
                int(self._now * 1000),
                content.approved,
                content.denied,
                content.txs,
            )
        )
        if built.content.is_empty() or not self._checker.content_ok(self.height, built.content):
            self._trace("nothing-to-propose", "every item was left out")
            return None
        # Our own block: no need to have the application open what it just built.
        hs.blocks[built.block_hash] = Candidate(built.block, built.content)
        self._trace(
            "built",
            f"{len(built.content.approved)} approved, {len(built.content.denied)} denied, "
            f"{len(built.content.txs)} txs",
        )
        return built

    def _stagger_elapsed(self) -> bool:
        """Round 0 is a race; nodes further from the preferred claimant start it a bit later,
        so one claim usually arrives everywhere before the others are made."""
        hs = self._hs
        if hs.ready_since is None:
            hs.ready_since = self._now
        rank = (self.index - self.config.preferred_claimant(self.height, 0)) % self.config.n
        due = hs.ready_since + rank * self.config.timeouts.claim_stagger
        if self._now >= due:
            return True
        # One wake-up per height is enough: ready_since, hence due, does not move.
        if hs.claim_wake is None or hs.claim_wake > due:
            hs.claim_wake = due
            self._out.timers.append(Timer(TimerKind.CLAIM, self.height, 0, due))
        return False

    def _claim_valid(self, claim: LeaderClaim) -> bool:
        """Whether the claim's block is one this node accepts at this height (opened once)."""
        hs = self._hs
        candidate = hs.blocks.get(claim.block_hash)
        if candidate is None and claim.block not in hs.bad_blocks:
            try:
                opened = self._app.open_block(self.height, claim.block)
            except InvalidBlock:
                opened = None
            if (
                opened is not None
                and opened.block_hash == claim.block_hash
                and self._checker.content_ok(self.height, opened.content)
            ):
                candidate = Candidate(claim.block, opened.content)
                hs.blocks[claim.block_hash] = candidate
            else:
                hs.bad_blocks.add(claim.block)
        if candidate is None or candidate.block != claim.block:
            self._trace("bad-block", f"from n{claim.claimant}")
            return False
        return self._checker.claim_matches(claim, candidate.content)

    def _has_polka(self, round_: int, block_hash: bytes | None) -> bool:
        if block_hash is not None and (round_, block_hash) in self._hs.proven_polkas:
            return True
        return block_tally(self._hs.prepares.of(round_))[block_hash] >= self.config.quorum

    def _lock_allows(self, block_hash: bytes, valid_round: int) -> bool:
        """The locking rule: a locked node prepares only its locked block, unless the proposal
        carries a polka from a round at or after the lock (which unlocks it)."""
        hs = self._hs
        return hs.locked_round <= valid_round or hs.locked_hash == block_hash

    def _maybe_prepare(self) -> bool:
        """Elect and prepare in one vote: for the first claim of the round whose block is valid
        (this node's own, if it claimed before seeing another), its block if the lock allows,
        else nil. With no acceptable claim yet, claim if this node may."""
        hs = self._hs
        if hs.step != Step.WAIT_PROPOSAL:
            return False
        for claim in hs.claims.get(hs.round, []):
            vr = claim.valid_round
            if vr != NO_ROUND and not self._has_polka(vr, claim.block_hash):
                return False  # wait for the polka it cites, or for the timeout
            if claim.block in hs.bad_blocks or not self._claim_valid(claim):
                continue
            ok = self._lock_allows(claim.block_hash, vr)
            self._trace("elect-vote", f"for n{claim.claimant}" if ok else "nil: locked")
            self._prepare(claim.block_hash if ok else None)
            return True
        return self._maybe_claim()

    def _prepare(self, block_hash: bytes | None) -> None:
        hs = self._hs
        self._broadcast(self._sign(PrepareVote(self.height, hs.round, self.index, block_hash, b"")))
        hs.step = Step.PREPARED
        self._trace("prepare", block_hash.hex()[:8] if block_hash else "nil")
        self._set_timer(TimerKind.PREPARE, self.config.timeouts.prepare_timeout(hs.round))

    def _maybe_lock(self) -> bool:
        hs = self._hs
        r = hs.round
        if hs.step == Step.WAIT_PROPOSAL or r in hs.polka_seen:
            return False
        tally = block_tally(hs.prepares.of(r))
        block_hash = next(
            (h for h, c in tally.items() if h is not None and c >= self.config.quorum), None
        )
        if block_hash is None:
            return False
        claim = hs.claim_with(r, block_hash)
        if claim is None or not self._claim_valid(claim):
            return False  # the claim may still arrive (with its block)
        hs.polka_seen.add(r)
        if hs.step == Step.PREPARED:
            hs.locked_round, hs.locked_hash = r, block_hash
            self._persist()
            self._trace("lock", block_hash.hex()[:8])
            self._commit_vote(block_hash)
        hs.valid_round, hs.valid_hash = r, block_hash
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
            for claims in hs.claims.values():
                for claim in claims:
                    if claim.block_hash == block_hash:
                        self._claim_valid(claim)
        return hs.blocks.get(block_hash)
