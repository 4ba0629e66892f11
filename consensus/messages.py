"""Wire messages of the threshold re-encryption consensus.

Every message is a frozen dataclass with a canonical encoding (crypto/codec.py: a one-byte type
tag, a one-byte version, fixed-width big-endian integers, length-prefixed blobs). Node-signed
messages carry an Ed25519 signature over :meth:`signing_bytes`, which binds the chain id and the
whole unsigned encoding under a consensus-specific hash tag. Commit votes for a block are the
exception: they sign the ledger's ``commit_vote_payload`` (injected), so that a commit QC can be
checked by the ledger without knowing these messages.

Rounds that may be absent (``valid_round``) use ``-1``; an absent block hash (a nil vote) is
``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consensus.encoding import (
    CLAIM_VERSION,
    MAX_INDEX,
    TAG_AUTH_VOTE,
    TAG_CLAIM,
    TAG_COMMIT_VOTE,
    TAG_COMMITTED_BLOCK,
    TAG_PREPARE_VOTE,
    TAG_SUBMISSION,
    TAG_SYNC_REPLY,
    TAG_SYNC_REQUEST,
    VERSION,
    ItemKind,
    NodeSigned,
    get_index,
    get_round,
    get_signature,
    put_hash,
    put_round,
)
from consensus.item import Item
from consensus.votes import (
    AuthVote,
    Bundle,
    CommitVote,
    DecidedRequest,
    PrepareVote,
)
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.hashing import DIGEST_SIZE
from crypto.signing import SIGNATURE_SIZE

__all__ = [
    "AuthVote",
    "BlockContent",
    "Bundle",
    "CommitVote",
    "CommittedBlock",
    "DecidedRequest",
    "Item",
    "ItemKind",
    "LeaderClaim",
    "Message",
    "PrepareVote",
    "Submission",
    "SyncReply",
    "SyncRequest",
    "decode_message",
]


@dataclass(frozen=True, slots=True)
class Submission:
    """A client's access request or ordinary transaction, relayed between nodes (unsigned here:
    the application checks the client's own signature inside ``body``). The receiver's
    application decodes and names it (:class:`~consensus.item.Item`)."""

    kind: ItemKind
    body: bytes

    @classmethod
    def of(cls, item: Item) -> Submission:
        return cls(item.kind, item.body)

    def to_bytes(self) -> bytes:
        return Writer(TAG_SUBMISSION, VERSION).u8(int(self.kind)).blob(self.body).to_bytes()

    @classmethod
    def read(cls, r: Reader) -> Submission:
        r.expect_header(TAG_SUBMISSION, VERSION)
        raw_kind = r.u8()
        try:
            kind = ItemKind(raw_kind)
        except ValueError as exc:
            raise DecodeError(f"unknown item kind {raw_kind}") from exc
        return cls(kind, r.blob())

    @classmethod
    def from_bytes(cls, data: bytes) -> Submission:
        return parse(data, "Submission", cls.read)


@dataclass(frozen=True, slots=True)
class LeaderClaim(NodeSigned):
    """A node's bid to lead round ``round`` of ``height``, carrying the block it proposes.

    The claim and the proposal are one message: a node that holds enough verified shares (or
    denials) for some requests, or transactions, builds its block and claims with it, and the
    prepare votes for that block are the election votes. When it re-proposes a block it saw
    prepared by a quorum in an earlier round, ``valid_round`` is that round and ``polka``
    carries those prepare votes, so that nodes which missed them can still check it.
    """

    height: int
    round: int
    claimant: int
    valid_round: int
    block_hash: bytes
    block: bytes
    polka: tuple[PrepareVote, ...]
    signature: bytes

    def unsigned_bytes(self) -> bytes:
        w = Writer(TAG_CLAIM, CLAIM_VERSION).u64(self.height)
        put_round(w, self.round)
        w.u16(self.claimant)
        put_round(w, self.valid_round)
        put_hash(w, self.block_hash)
        w.blob(self.block)
        w.seq(self.polka, lambda ww, v: ww.raw(v.to_bytes()))
        return w.to_bytes()

    @classmethod
    def read(cls, r: Reader) -> LeaderClaim:
        r.expect_header(TAG_CLAIM, CLAIM_VERSION)
        height = r.u64()
        round_ = get_round(r)
        claimant = get_index(r, "claimant")
        valid_round = get_round(r, absent_ok=True)
        block_hash = r.fixed(DIGEST_SIZE)
        block = r.blob()
        polka = tuple(r.seq(PrepareVote.read, max_items=MAX_INDEX))
        sig = get_signature(r)
        return cls(height, round_, claimant, valid_round, block_hash, block, polka, sig)

    @classmethod
    def from_bytes(cls, data: bytes) -> LeaderClaim:
        return parse(data, "LeaderClaim", cls.read)


@dataclass(frozen=True, slots=True)
class BlockContent:
    """What consensus asks the application to put in a block, and reads back to check one.

    ``round`` and ``proposer`` are those of the claim the block was built for (a block
    re-proposed in a later round keeps them); ``timestamp`` is the proposer's clock in ms. Not a
    wire message: the block bytes are the application's.
    """

    height: int
    round: int
    proposer: int
    timestamp: int
    approved: tuple[DecidedRequest, ...]
    denied: tuple[DecidedRequest, ...]
    txs: tuple[Item, ...]

    def item_ids(self) -> tuple[bytes, ...]:
        ids = [d.request_id for d in self.approved]
        ids += [d.request_id for d in self.denied]
        ids += [tx.item_id for tx in self.txs]
        return tuple(ids)

    def is_empty(self) -> bool:
        return not (self.approved or self.denied or self.txs)


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """A decided block with its commit QC (signer indexes and their commit-vote signatures)."""

    height: int
    round: int
    block_hash: bytes
    block: bytes
    signers: tuple[int, ...]
    signatures: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if len(self.signers) != len(self.signatures):
            raise DecodeError("commit QC signer and signature counts differ")

    def write(self, w: Writer) -> None:
        w.u8(TAG_COMMITTED_BLOCK).u8(VERSION).u64(self.height)
        put_round(w, self.round)
        put_hash(w, self.block_hash)
        w.blob(self.block)
        w.seq(self.signers, lambda ww, i: ww.u16(i))
        w.seq(self.signatures, lambda ww, s: ww.fixed(s, SIGNATURE_SIZE))

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.to_bytes()

    @classmethod
    def read(cls, r: Reader) -> CommittedBlock:
        r.expect_header(TAG_COMMITTED_BLOCK, VERSION)
        height = r.u64()
        round_ = get_round(r)
        block_hash = r.fixed(DIGEST_SIZE)
        block = r.blob()
        signers = tuple(r.seq(lambda rr: get_index(rr, "signer"), max_items=MAX_INDEX))
        sigs = tuple(r.seq(get_signature, max_items=MAX_INDEX))
        return cls(height, round_, block_hash, block, signers, sigs)

    @classmethod
    def from_bytes(cls, data: bytes) -> CommittedBlock:
        return parse(data, "CommittedBlock", cls.read)


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """ "Send me committed blocks from ``from_height`` on" (also the periodic status beacon)."""

    from_height: int
    requester: int

    def to_bytes(self) -> bytes:
        w = Writer(TAG_SYNC_REQUEST, VERSION)
        return w.u64(self.from_height).u16(self.requester).to_bytes()

    @classmethod
    def read(cls, r: Reader) -> SyncRequest:
        r.expect_header(TAG_SYNC_REQUEST, VERSION)
        return cls(r.u64(), get_index(r, "requester"))

    @classmethod
    def from_bytes(cls, data: bytes) -> SyncRequest:
        return parse(data, "SyncRequest", cls.read)


@dataclass(frozen=True, slots=True)
class SyncReply:
    """Consecutive committed blocks, each checked by the receiver against its commit QC."""

    blocks: tuple[CommittedBlock, ...]

    def to_bytes(self) -> bytes:
        w = Writer(TAG_SYNC_REPLY, VERSION)
        w.seq(self.blocks, lambda ww, b: b.write(ww))
        return w.to_bytes()

    @classmethod
    def read(cls, r: Reader) -> SyncReply:
        r.expect_header(TAG_SYNC_REPLY, VERSION)
        return cls(tuple(r.seq(CommittedBlock.read, max_items=1024)))

    @classmethod
    def from_bytes(cls, data: bytes) -> SyncReply:
        return parse(data, "SyncReply", cls.read)


Message = (
    Submission
    | AuthVote
    | LeaderClaim
    | PrepareVote
    | CommitVote
    | SyncRequest
    | SyncReply
)

_READERS: dict[int, Callable[[Reader], Message]] = {
    TAG_SUBMISSION: Submission.read,
    TAG_AUTH_VOTE: AuthVote.read,
    TAG_CLAIM: LeaderClaim.read,
    TAG_PREPARE_VOTE: PrepareVote.read,
    TAG_COMMIT_VOTE: CommitVote.read,
    TAG_SYNC_REQUEST: SyncRequest.read,
    TAG_SYNC_REPLY: SyncReply.read,
}


def decode_message(data: bytes) -> Message:
    """Decode any consensus wire message; raises :class:`DecodeError` on anything malformed."""
    if not data:
        raise DecodeError("empty consensus message")
    reader = _READERS.get(data[0])
    if reader is None:
        raise DecodeError(f"unknown consensus message tag {data[0]:#04x}")
    message: Message = parse(data, "consensus message", reader)
    return message
