"""Blocks: header, transactions, sharing results and the previous block's commit QC.

The block hash is the hash of the header alone; the header commits to the body through three
roots: ``tx_root`` (Merkle root of transaction ids), ``results_root`` (Merkle root of sharing
result hashes) and ``evidence_hash`` (the carried commit QC of the previous block and the opaque
election QC of this one). ``state_root`` chains a hash of every state change the block makes onto
the previous block's state root, so two nodes that applied the same blocks agree on it.

A :class:`SharingResult` is the block-level outcome of one access request: granted or denied,
the combined re-encrypted ciphertext, the verified re-encryption shares with their proofs, and the
nodes' signed votes. Each one is appended to the sharing-audit chain when its block is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crypto.codec import Reader
from crypto.errors import DecodeError
from crypto.hashing import digest
from ledger import fastread
from ledger.encoding import (
    BLOB,
    BOOL,
    HASH,
    TAG_BLOCK,
    TAG_BLOCK_HEADER,
    TAG_SHARING_RESULT,
    TEXT,
    U16,
    U32,
    U64,
    Encoded,
    nested,
    optional,
    sequence,
    tagged_union,
)
from ledger.errors import InvalidBlock
from ledger.fasthash import OnePartDigest
from ledger.merkle import merkle_root
from ledger.qc import AccessVote, CommitQC
from ledger.transactions import Transaction, decode_transaction, tx_ids_of

BLOCK_HASH_TAG = b"iomtshare/ledger/block/v1"
RESULT_HASH_TAG = b"iomtshare/ledger/sharing-result/v1"
EVIDENCE_TAG = b"iomtshare/ledger/evidence/v1"
_result_hashes = OnePartDigest(RESULT_HASH_TAG).each


@dataclass(frozen=True, slots=True)
class SharingResult(Encoded):
    """The decision on one access request, with its re-encryption evidence and votes."""

    request_id: bytes
    record_id: bytes
    requester: bytes
    granted: bool
    combined_ciphertext: bytes
    shares_and_proofs: bytes
    votes: tuple[AccessVote, ...]

    TAG = TAG_SHARING_RESULT
    FIELDS = (
        ("request_id", HASH),
        ("record_id", HASH),
        ("requester", HASH),
        ("granted", BOOL),
        ("combined_ciphertext", BLOB),
        ("shares_and_proofs", BLOB),
        ("votes", sequence(nested(AccessVote))),
    )

    def hash(self) -> bytes:
        return digest(RESULT_HASH_TAG, self.to_bytes())


@dataclass(frozen=True, slots=True)
class BlockHeader(Encoded):
    """Everything the block hash covers. ``time_ms`` is milliseconds since the Unix epoch."""

    chain_id: str
    height: int
    round: int
    prev_hash: bytes
    tx_root: bytes
    results_root: bytes
    evidence_hash: bytes
    state_root: bytes
    time_ms: int
    proposer: int
    # The canonical encoding, cached: the header is hashed wherever a block is checked.
    _encoded: bytes = field(default=b"", init=False, repr=False, compare=False)
    CACHED_ENCODING = "_encoded"

    TAG = TAG_BLOCK_HEADER
    FIELDS = (
        ("chain_id", TEXT),
        ("height", U64),
        ("round", U32),
        ("prev_hash", HASH),
        ("tx_root", HASH),
        ("results_root", HASH),
        ("evidence_hash", HASH),
        ("state_root", HASH),
        ("time_ms", U64),
        ("proposer", U16),
    )

    def to_bytes(self) -> bytes:
        if not self._encoded:
            object.__setattr__(self, "_encoded", Encoded.to_bytes(self))
        return self._encoded

    def remember_encoding(self, data: bytes) -> None:
        object.__setattr__(self, "_encoded", bytes(data))

    def hash(self) -> bytes:
        return digest(BLOCK_HASH_TAG, self.to_bytes())


def evidence_hash(last_commit: CommitQC | None, election_qc: bytes) -> bytes:
    carried = last_commit.to_bytes() if last_commit is not None else b""
    return encoded_evidence_hash(carried, election_qc)


def encoded_evidence_hash(carried_qc: bytes, election_qc: bytes) -> bytes:
    """:func:`evidence_hash` from the carried QC's encoding (empty when there is none)."""
    return digest(EVIDENCE_TAG, carried_qc, election_qc)


@dataclass(frozen=True, slots=True)
class Block(Encoded):
    """A header with its body. ``last_commit`` is absent only at height 1."""

    header: BlockHeader
    transactions: tuple[Transaction, ...]
    results: tuple[SharingResult, ...]
    last_commit: CommitQC | None
    election_qc: bytes
    # The canonical encoding, cached: a block received as bytes is stored as those bytes
    # rather than re-encoded (``dataclasses.replace`` starts a fresh cache).
    _encoded: bytes = field(default=b"", init=False, repr=False, compare=False)
    CACHED_ENCODING = "_encoded"

    TAG = TAG_BLOCK
    FIELDS = (
        ("header", nested(BlockHeader)),
        ("transactions", sequence(tagged_union("transaction", decode_transaction, Transaction))),
        ("results", sequence(nested(SharingResult))),
        ("last_commit", optional(nested(CommitQC))),
        ("election_qc", BLOB),
    )

    @property
    def height(self) -> int:
        return self.header.height

    def to_bytes(self) -> bytes:
        if not self._encoded:
            object.__setattr__(self, "_encoded", Encoded.to_bytes(self))
        return self._encoded

    def remember_encoding(self, data: bytes) -> None:
        object.__setattr__(self, "_encoded", bytes(data))

    def hash(self) -> bytes:
        return self.header.hash()

    def tx_ids(self) -> list[bytes]:
        return [tx.tx_id() for tx in self.transactions]

    def check_body(self, tx_ids: Sequence[bytes] | None = None) -> None:
        """Raise :class:`InvalidBlock` unless the header's roots match the body.

        ``tx_ids`` may pass the already computed transaction ids.
        """
        check_roots(
            self.header,
            self.tx_ids() if tx_ids is None else tx_ids,
            [r.hash() for r in self.results],
            evidence_hash(self.last_commit, self.election_qc),
        )


def check_roots(
    header: BlockHeader,
    tx_ids: Sequence[bytes],
    result_hashes: Sequence[bytes],
    evidence: bytes,
) -> None:
    """Raise :class:`InvalidBlock` unless ``header``'s three roots match the given body.

    ``evidence`` is the body's evidence hash (see :func:`evidence_hash`).
    """
    if merkle_root(tx_ids) != header.tx_root:
        raise InvalidBlock(f"block {header.height}: tx_root does not match the transactions")
    if merkle_root(result_hashes) != header.results_root:
        raise InvalidBlock(f"block {header.height}: results_root does not match the results")
    if evidence != header.evidence_hash:
        raise InvalidBlock(f"block {header.height}: evidence_hash does not match")


@dataclass(frozen=True, slots=True)
class BlockParts:
    """A stored block split into its header and still-encoded items.

    Parsing this way is much cheaper than :meth:`Block.from_bytes` because transactions and
    results stay bytes; ids and roots are computed from those bytes, which are canonical.
    Used by verification and by header-only explorer queries.
    """

    header: BlockHeader
    transactions: tuple[bytes, ...]
    results: tuple[bytes, ...]
    last_commit: CommitQC | None
    election_qc: bytes
    #: The carried QC's encoding (empty when absent), hashed as it is rather than re-encoded.
    last_commit_bytes: bytes = b""

    @classmethod
    def from_bytes(cls, data: bytes) -> BlockParts:
        """Split an encoded :class:`Block`; raises :class:`DecodeError` on a malformed one."""
        try:
            if len(data) < 2:
                raise fastread.truncated(data, 0, 2)
            if (data[0], data[1]) != (Block.TAG, Block.VERSION):
                raise DecodeError(f"type tag {data[0]:#04x} version {data[1]} is not a block's")
            raw_header, pos = fastread.blob(data, 2)
            transactions, pos = fastread.blobs(data, pos)
            results, pos = fastread.blobs(data, pos)
            present, pos = fastread.boolean(data, pos)
            carried = b""
            if present:
                carried, pos = fastread.blob(data, pos)
            election_qc, pos = fastread.blob(data, pos)
            if pos != len(data):
                raise DecodeError(f"{len(data) - pos} trailing bytes after the encoding")
        except DecodeError as exc:
            raise DecodeError(f"Block: {exc}") from exc
        # Decoding insists the carried QC is canonical, so its bytes stand for its value.
        last_commit = CommitQC.from_bytes(carried) if present else None
        header = BlockHeader.from_bytes(raw_header)
        return cls(header, transactions, results, last_commit, election_qc, carried)

    def tx_ids(self) -> list[bytes]:
        return tx_ids_of(self.transactions)

    def result_hashes(self) -> list[bytes]:
        return _result_hashes(self.results)

    def check_body(self, tx_ids: Sequence[bytes]) -> None:
        """Raise :class:`InvalidBlock` unless the header's roots match the body."""
        evidence = encoded_evidence_hash(self.last_commit_bytes, self.election_qc)
        check_roots(self.header, tx_ids, self.result_hashes(), evidence)


def header_of(encoded_block: bytes) -> BlockHeader:
    """Only the header of an encoded block (the first field); raises :class:`DecodeError`."""
    reader = Reader(encoded_block, "Block")
    reader.expect_header(Block.TAG, Block.VERSION)
    return BlockHeader.from_bytes(reader.blob())
