"""Helpers to drive one consensus node by hand: peers that craft correctly signed messages."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from consensus.config import ConsensusConfig
from consensus.encoding import NO_ROUND, ItemKind
from consensus.machine import ConsensusNode
from consensus.messages import (
    BlockContent,
    CommitVote,
    DecidedRequest,
    LeaderClaim,
    PrepareVote,
    Submission,
)
from consensus.output import Output, Timer, TimerKind
from consensus.simulation.fake import (
    FakeLedger,
    FakeRequest,
    FakeShares,
    FakeSigner,
    FakeVerifier,
    SimApp,
    fake_access_payload,
    fake_commit_payload,
    sim_item,
    sim_item_id,
)
from consensus.votes import AuthVote

CHAIN = "sim-chain"
T = TypeVar("T")
S = TypeVar("S", LeaderClaim, PrepareVote)


def make_node(
    index: int = 1, n: int = 4, ledger: FakeLedger | None = None
) -> tuple[ConsensusNode, SimApp]:
    config = ConsensusConfig.with_majority(CHAIN, n)
    app = SimApp(index, ledger or FakeLedger(), FakeShares())
    node = ConsensusNode.create(
        config,
        index,
        FakeSigner(index),
        FakeVerifier(),
        app,
        fake_commit_payload,
        fake_access_payload,
    )
    return node, app


def request(nonce: int = 1, allowed: bool = True, threshold: int = 2) -> Submission:
    return Submission(ItemKind.REQUEST, FakeRequest(nonce, allowed, threshold).to_bytes())


def ident(sub: Submission) -> bytes:
    """The id the simulated application gives a submitted item."""
    return sim_item_id(sub.body)


def decided(sub: Submission, votes: tuple[AuthVote, ...]) -> DecidedRequest:
    """A request with the votes that decide it, as the simulated application decodes it."""
    return DecidedRequest(sim_item(sub.kind, sub.body), votes)


def sent(out: Output, cls: type[T]) -> list[T]:
    return [s.message for s in out.sends if isinstance(s.message, cls)]


def timers(out: Output, kind: TimerKind) -> list[Timer]:
    return [t for t in out.timers if t.kind is kind]


class Peer:
    """Validator ``index`` as seen by the node under test (it signs with its own fake key)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.signer = FakeSigner(index)
        self.shares = FakeShares()

    def sign(self, msg: S) -> S:
        return dataclasses.replace(msg, signature=self.signer.sign(msg.signing_bytes(CHAIN)))

    def auth_vote(
        self, sub: Submission, approve: bool = True, share: bytes | None = None
    ) -> AuthVote:
        if share is None:
            share = self.shares.share(self.index, sub.body) if approve else b""
        signature = self.signer.sign(fake_access_payload(CHAIN, ident(sub), approve, share))
        return AuthVote(ident(sub), self.index, approve, share, signature)

    def prepare(self, height: int, round_: int, block_hash: bytes | None) -> PrepareVote:
        return self.sign(PrepareVote(height, round_, self.index, block_hash, b""))

    def commit(self, height: int, round_: int, block_hash: bytes) -> CommitVote:
        payload = fake_commit_payload(CHAIN, height, round_, block_hash)
        return CommitVote(height, round_, self.index, block_hash, self.signer.sign(payload))

    def claim(
        self,
        app: SimApp,
        round_: int,
        txs: tuple[bytes, ...] = (),
        approved: tuple[DecidedRequest, ...] = (),
        denied: tuple[DecidedRequest, ...] = (),
        timestamp: int = 0,
        valid_round: int = NO_ROUND,
        polka: tuple[PrepareVote, ...] = (),
        block: bytes | None = None,
        proposer: int | None = None,
        height: int = 1,
    ) -> LeaderClaim:
        """A claim at ``height`` carrying its block, built with ``app`` unless given (by
        ``proposer``, this peer unless given, in ``round_``)."""
        items = tuple(sim_item(ItemKind.TX, tx) for tx in txs)
        content = BlockContent(
            height, round_, proposer or self.index, timestamp, approved, denied, items
        )
        built = app.build_block(content)
        raw = block if block is not None else built.block
        h = built.block_hash if block is None else app.open_block(height, raw).block_hash
        return self.sign(
            LeaderClaim(height, round_, self.index, valid_round, h, raw, polka, b"")
        )
