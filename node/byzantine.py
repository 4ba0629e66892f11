"""TEST ONLY: a node that misbehaves on purpose, to test what honest nodes withstand.

Set ``IOMTSHARE_TEST_BYZANTINE=mode[,mode...]`` in a node process's environment and that node
turns Byzantine; nothing else enables it and it is never on by default. The node says so at
start (``TEST ONLY: Byzantine modes ...``, a warning). Its consensus machine stays honest: only
what it sends to peers is changed, by :meth:`Byzantine.outgoing`, on the way from the consensus
loop to the peer links, so the pure consensus in ``consensus/`` knows nothing of it.

==========================  ===================================================================
mode                        what the node sends
==========================  ===================================================================
``bad-shares``              its approvals carry a well-formed re-encryption share whose proof
                            fails (s_i squared, still in GT), correctly signed
``equivocate``              a second, conflicting, correctly signed vote next to each prepare
                            (election) and commit vote (nil for a block, a made-up hash for
                            nil) and each approval (a denial)
``conflicting-proposals``   as claimant, a second valid block for the same round next to its
                            claim (block time one ms later, so another hash), both signed
``withhold``                none of its votes, claims or sync replies
``garbage``                 junk frames to every peer as fast as the links take them: random
                            bytes, a message tag with a random tail, real frames with a byte
                            flipped
``forge-headers``           to edges (``/iomtshare/headers/1``): the first header of each
                            non-empty batch with another state root, under a commit QC that
                            names the changed header but carries the real block's signatures,
                            which therefore do not verify; nothing after it
==========================  ===================================================================

Conflicting messages go to every peer, in an order that differs between peers (odd indexes get
the honest one first), so peers act on different messages and each can prove the equivocation.
``forge-headers`` changes what the header server answers (:func:`forged_batch`), not consensus.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import random
from collections import deque
from collections.abc import Iterable
from typing import TypeVar

import trio

from consensus import Message
from consensus.encoding import NodeSigned
from consensus.messages import CommitVote, LeaderClaim, SyncReply
from consensus.signer import Ed25519Signer
from consensus.votes import AuthVote, PhaseVote, PrepareVote
from crypto.errors import DecodeError
from crypto.groups import Group
from crypto.hashing import digest
from crypto.signing import SigningKey
from crypto.tpre.share import ReEncryptionShare
from ledger.block import Block
from ledger.header_chain import CertifiedHeader, HeaderBatch
from ledger.qc import access_vote_payload, commit_vote_payload
from node.config import ConfigError
from node.peer_links import PeerLinks

logger = logging.getLogger("iomtshare.node.byzantine")

#: Test only: the modes a node misbehaves in (comma-separated). Never set it otherwise.
TEST_BYZANTINE_ENV = "IOMTSHARE_TEST_BYZANTINE"

#: Junk frames kept waiting per peer by the flood; below the links' queue bound (1024), so the
#: node's own frames are not pushed out of the queue by it.
FLOOD_BACKLOG = 256
#: The flood tops the queues up this often (seconds): as fast as the links drain, without
#: spinning a core while they are full.
FLOOD_PAUSE = 0.001
_MAX_JUNK = 2048
_WITHHELD = (AuthVote, LeaderClaim, PrepareVote, CommitVote, SyncReply)
_JUNK_SEED = b"iomtshare byzantine test junk"

_Signed = TypeVar("_Signed", bound=NodeSigned)


class Mode(enum.StrEnum):
    BAD_SHARES = "bad-shares"
    EQUIVOCATE = "equivocate"
    CONFLICTING_PROPOSALS = "conflicting-proposals"
    WITHHOLD = "withhold"
    GARBAGE = "garbage"
    FORGE_HEADERS = "forge-headers"


def modes_from_env() -> frozenset[Mode]:
    """The modes :data:`TEST_BYZANTINE_ENV` names (empty when unset), logged loudly when any;
    raises :class:`ConfigError` for a mode that does not exist."""
    modes = _parse_env()
    if modes:
        logger.warning(
            "TEST ONLY: Byzantine modes %s (%s): this node misbehaves on purpose",
            ",".join(sorted(modes)),
            TEST_BYZANTINE_ENV,
        )
    return modes


def forges_headers() -> bool:
    """Whether :data:`TEST_BYZANTINE_ENV` names ``forge-headers`` (read without logging: the
    node logged its modes at start; an unknown mode there already stopped it)."""
    try:
        return Mode.FORGE_HEADERS in _parse_env()
    except ConfigError:
        return False


def forged_batch(batch: HeaderBatch) -> HeaderBatch:
    """``batch`` cut to its first header, changed (another state root) under a commit QC that
    names the changed header with the real signatures: a forgery an edge must refuse."""
    if not batch.headers:
        return batch
    real = batch.headers[0]
    header = dataclasses.replace(
        real.header, state_root=digest(_JUNK_SEED, real.header.state_root)
    )
    qc = dataclasses.replace(real.commit_qc, block_hash=header.hash())
    return HeaderBatch((CertifiedHeader(header, qc),))


def _parse_env() -> frozenset[Mode]:
    text = os.environ.get(TEST_BYZANTINE_ENV, "").strip()
    modes = set()
    for name in filter(None, (part.strip() for part in text.split(","))):
        try:
            modes.add(Mode(name))
        except ValueError:
            known = ", ".join(m.value for m in Mode)
            message = f"{TEST_BYZANTINE_ENV}: unknown mode {name!r} (known: {known})"
            raise ConfigError(message) from None
    return frozenset(modes)


class Byzantine:
    """Rewrites what node ``index`` sends in ``modes``; signs with its own ``key``."""

    def __init__(self, modes: Iterable[Mode], key: SigningKey, chain_id: str, group: Group) -> None:
        self.modes = frozenset(modes)
        self._signer = Ed25519Signer(key)
        self._chain_id = chain_id
        self._group = group
        self._random = random.Random()
        # Recent real frames, for the flood to mutate.
        self._recent: deque[bytes] = deque(maxlen=64)

    def outgoing(
        self, to: int | None, message: Message, peers: tuple[int, ...]
    ) -> list[tuple[int, bytes]]:
        """The frames to queue, by peer, instead of sending ``message`` to ``to`` (None: every
        one of ``peers``)."""
        if Mode.WITHHOLD in self.modes and isinstance(message, _WITHHELD):
            return []
        if Mode.BAD_SHARES in self.modes and isinstance(message, AuthVote) and message.approve:
            message = self._bad_share(message)
        variants = [message.to_bytes()]
        conflict = self._conflict(message)
        if conflict is not None:
            variants.append(conflict.to_bytes())
        self._recent.extend(variants)
        targets = peers if to is None else tuple(p for p in peers if p == to)
        return [
            (peer, frame)
            for peer in targets
            for frame in (variants if peer % 2 else reversed(variants))
        ]

    async def run(self, links: PeerLinks) -> None:
        """In ``garbage`` mode keep every peer's link full of junk frames until cancelled;
        otherwise return at once."""
        while Mode.GARBAGE in self.modes:
            for peer in links.peers:
                while links.queued(peer) < FLOOD_BACKLOG:
                    links.send(peer, self._junk())
            await trio.sleep(FLOOD_PAUSE)

    # -- the misbehaviours ---------------------------------------------------------------------

    def _conflict(self, message: Message) -> NodeSigned | AuthVote | None:
        if Mode.EQUIVOCATE in self.modes:
            if isinstance(message, PhaseVote):
                other = None if message.block_hash is not None else _made_up(message)
                return self._sign_phase(dataclasses.replace(message, block_hash=other))
            if isinstance(message, AuthVote) and message.approve:
                return self._sign_auth(dataclasses.replace(message, approve=False, share=b""))
        if Mode.CONFLICTING_PROPOSALS in self.modes and isinstance(message, LeaderClaim):
            return self._other_block(message)
        return None

    def _bad_share(self, vote: AuthVote) -> AuthVote:
        try:
            share = ReEncryptionShare.from_bytes(self._group, vote.share)
        except DecodeError:
            return vote
        forged = dataclasses.replace(share, value=share.value * share.value)
        return self._sign_auth(dataclasses.replace(vote, share=forged.to_bytes()))

    def _other_block(self, claim: LeaderClaim) -> LeaderClaim | None:
        try:
            block = Block.from_bytes(claim.block)
        except DecodeError:
            return None
        header = dataclasses.replace(block.header, time_ms=block.header.time_ms + 1)
        other = dataclasses.replace(block, header=header)
        changed = dataclasses.replace(claim, block=other.to_bytes(), block_hash=other.hash())
        return self._sign(changed)

    def _junk(self) -> bytes:
        pick = self._random.randrange(3)
        size = self._random.randrange(_MAX_JUNK)
        if pick == 0 or not self._recent:
            return self._random.randbytes(size)
        real = bytearray(self._random.choice(self._recent))
        if pick == 1:
            return bytes(real[:2]) + self._random.randbytes(size)
        real[self._random.randrange(len(real))] ^= 1 << self._random.randrange(8)
        return bytes(real)

    # -- signing as the node does ----------------------------------------------------------------

    def _sign(self, message: _Signed) -> _Signed:
        signature = self._signer.sign(message.signing_bytes(self._chain_id))
        return dataclasses.replace(message, signature=signature)  # type: ignore[type-var]

    def _sign_phase(self, vote: PhaseVote) -> PhaseVote:
        if isinstance(vote, CommitVote) and vote.block_hash is not None:
            payload = commit_vote_payload(self._chain_id, vote.height, vote.round, vote.block_hash)
            return dataclasses.replace(vote, signature=self._signer.sign(payload))
        signature = self._signer.sign(vote.signing_bytes(self._chain_id))
        return dataclasses.replace(vote, signature=signature)

    def _sign_auth(self, vote: AuthVote) -> AuthVote:
        payload = access_vote_payload(self._chain_id, vote.request_id, vote.approve, vote.share)
        return dataclasses.replace(vote, signature=self._signer.sign(payload))


def _made_up(message: PhaseVote) -> bytes:
    """A hash nobody proposed, the same each time for one message."""
    return digest(_JUNK_SEED, message.unsigned_bytes())
