"""Signed votes: authorization votes with shares, prepare (election) votes and commit votes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from consensus.encoding import (
    AUTH_VOTE_VERSION,
    MAX_INDEX,
    TAG_AUTH_VOTE,
    TAG_BUNDLE,
    TAG_COMMIT_VOTE,
    TAG_PREPARE_VOTE,
    VERSION,
    NodeSigned,
    get_index,
    get_opt_hash,
    get_round,
    get_signature,
    put_hash,
    put_opt_hash,
    put_round,
)
from consensus.item import Item
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.hashing import DIGEST_SIZE
from crypto.signing import SIGNATURE_SIZE


@dataclass(frozen=True, slots=True)
class AuthVote:
    """A node's decision on one access request (named by the application's id); an approval
    carries its re-encryption share (share and proof, opaque bytes checked by the application).

    ``signature`` signs the injected access payload over the chain id, the request id, the
    decision and the share: the ledger's payload, so a block carries each vote once and both the
    ledger and consensus verify it, and nobody can swap a node's share and blame the node.
    """

    request_id: bytes
    voter: int
    approve: bool
    share: bytes
    signature: bytes

    def to_bytes(self) -> bytes:
        w = Writer(TAG_AUTH_VOTE, AUTH_VOTE_VERSION)
        put_hash(w, self.request_id)
        w.u16(self.voter).boolean(self.approve).blob(self.share)
        return w.fixed(self.signature, SIGNATURE_SIZE).to_bytes()

    @classmethod
    def read(cls, r: Reader) -> AuthVote:
        r.expect_header(TAG_AUTH_VOTE, AUTH_VOTE_VERSION)
        request_id = r.fixed(DIGEST_SIZE)
        voter = get_index(r, "voter")
        approve = r.boolean()
        share = r.blob()
        if not approve and share:
            raise DecodeError("a deny vote carries no share")
        return cls(request_id, voter, approve, share, get_signature(r))

    @classmethod
    def from_bytes(cls, data: bytes) -> AuthVote:
        return parse(data, "AuthVote", cls.read)


@dataclass(frozen=True, slots=True)
class DecidedRequest:
    """A decoded request with the signed votes that decide it (approvals with shares, or
    denials): what a node claims with and what a block holds."""

    request: Item
    votes: tuple[AuthVote, ...]

    @property
    def request_id(self) -> bytes:
        return self.request.item_id

    def bundle(self) -> Bundle:
        return Bundle(self.request.body, self.votes)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A request's bytes with the signed votes that decide it (an encoding helper for blocks
    that keep requests this way, such as the simulator's; the reader decodes the request
    through its application)."""

    request: bytes
    votes: tuple[AuthVote, ...]

    def write(self, w: Writer) -> None:
        w.u8(TAG_BUNDLE).u8(VERSION).blob(self.request)
        w.seq(self.votes, lambda ww, v: ww.raw(v.to_bytes()))

    @classmethod
    def read(cls, r: Reader) -> Bundle:
        r.expect_header(TAG_BUNDLE, VERSION)
        request = r.blob()
        votes = tuple(r.seq(AuthVote.read, max_items=MAX_INDEX))
        return cls(request, votes)


def put_bundles(w: Writer, bundles: tuple[Bundle, ...]) -> None:
    w.seq(bundles, lambda ww, b: b.write(ww))


def get_bundles(r: Reader) -> tuple[Bundle, ...]:
    return tuple(r.seq(Bundle.read, max_items=4096))


@dataclass(frozen=True, slots=True)
class PhaseVote(NodeSigned):
    """A vote of one voting phase on the block of (height, round); ``None`` is a nil vote.

    The two phases differ only in their type tag (:class:`PrepareVote`, :class:`CommitVote`).
    """

    TAG: ClassVar[int]

    height: int
    round: int
    voter: int
    block_hash: bytes | None
    signature: bytes

    def unsigned_bytes(self) -> bytes:
        w = Writer(self.TAG, VERSION).u64(self.height)
        put_round(w, self.round)
        w.u16(self.voter)
        put_opt_hash(w, self.block_hash)
        return w.to_bytes()

    @classmethod
    def read(cls, r: Reader) -> Self:
        r.expect_header(cls.TAG, VERSION)
        height = r.u64()
        round_ = get_round(r)
        voter = get_index(r, "voter")
        return cls(height, round_, voter, get_opt_hash(r), get_signature(r))

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return parse(data, cls.__name__, cls.read)


@dataclass(frozen=True, slots=True)
class PrepareVote(PhaseVote):
    """First-phase vote on a claim's block at (height, round); it is also the election vote:
    a quorum of them for one claim's block elects its claimant and prepares the block."""

    TAG: ClassVar[int] = TAG_PREPARE_VOTE


@dataclass(frozen=True, slots=True)
class CommitVote(PhaseVote):
    """Second-phase vote; a quorum of these for one block hash is its commit QC.

    A vote for a block signs the ledger's ``commit_vote_payload(chain_id, height, round,
    block_hash)``; a nil vote signs :meth:`signing_bytes`.
    """

    TAG: ClassVar[int] = TAG_COMMIT_VOTE
