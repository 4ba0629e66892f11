"""Blocks: header, transactions, sharing results, the previous block's commit QC and the
election QC of this block's proposer.

The block hash is the hash of the header alone; the header commits to the body through three
roots: ``tx_root`` (Merkle root of transaction ids), ``results_root`` (Merkle root of sharing
result hashes) and ``evidence_hash`` (the carried commit QC of the previous block and the
election QC of this one). ``state_root`` chains a hash of every state change the block makes onto
the previous block's state root, so two nodes that applied the same blocks agree on it.

A :class:`SharingResult` is the block-level outcome of one access request: granted or denied,
the combined re-encrypted ciphertext and the nodes' signed votes, each approval with its
re-encryption share and proof (the combination is of the first t approvals by node index). Each
share, vote and signature is in the block once. Each result is appended to the sharing-audit
chain when its block is applied.

Version 2 of :class:`Block` and :class:`SharingResult`: version 1 kept the shares twice (a share
list in the result and the votes in an opaque ``election_qc`` blob, with a second signature per
vote).
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
    SIGNATURE,
    TAG_BLOCK,
    TAG_BLOCK_HEADER,
    TAG_ELECTION_QC,
    TAG_ELECTION_SIG,
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
from ledger.genesis import Genesis
from ledger.merkle import merkle_root
from ledger.qc import AccessVote, CommitQC
from ledger.transactions import Transaction, decode_transaction, tx_ids_of

BLOCK_HASH_TAG = b"iomtshare/ledger/block/v1"
RESULT_HASH_TAG = b"iomtshare/ledger/sharing-result/v1"
EVIDENCE_TAG = b"iomtshare/ledger/evidence/v2"
_result_hashes = OnePartDigest(RESULT_HASH_TAG).each


@dataclass(frozen=True, slots=True)
class SharingResult(Encoded):
    """The decision on one access request with the signed votes that made it; a granted one
    carries the ciphertext combined from its first ``t`` approvals' shares (by node index)."""

    request_id: bytes
    record_id: bytes
    requester: bytes
    granted: bool
    combined_ciphertext: bytes
    votes: tuple[AccessVote, ...]

    TAG = TAG_SHARING_RESULT
    VERSION = 2
    FIELDS = (
        ("request_id", HASH),
        ("record_id", HASH),
        ("requester", HASH),
        ("granted", BOOL),
        ("combined_ciphertext", BLOB),
        ("votes", sequence(nested(AccessVote))),
    )

    def hash(self) -> bytes:
        return digest(RESULT_HASH_TAG, self.to_bytes())


@dataclass(frozen=True, slots=True)
class ElectionSignature(Encoded):
    """One node's election vote in an :class:`ElectionQC`."""

    node_index: int
    signature: bytes

    TAG = TAG_ELECTION_SIG
    FIELDS = (("node_index", U16), ("signature", SIGNATURE))


@dataclass(frozen=True, slots=True)
class ElectionQC(Encoded):
    """The quorum of election votes that made the block's proposer its leader.

    Every vote is for the proposer's claim with hash ``claim_hash`` in the header's round at the
    block's height, so only voters and signatures differ. The signatures are consensus
    signatures, which every validator checks before it prepares the block; the ledger checks the
    QC's shape (:meth:`check`), and the commit QC pins its bytes through the evidence hash.
    """

    claim_hash: bytes
    signatures: tuple[ElectionSignature, ...]

    TAG = TAG_ELECTION_QC
    FIELDS = (("claim_hash", HASH), ("signatures", sequence(nested(ElectionSignature))))

    def check(self, genesis: Genesis) -> None:
        """Raise :class:`InvalidBlock` unless a quorum of distinct genesis nodes, in increasing
        order, signed."""
        indexes = [s.node_index for s in self.signatures]
        if indexes != sorted(set(indexes)):
            raise InvalidBlock("election QC: voter indexes must be strictly increasing")
        if any(genesis.node(i) is None for i in indexes):
            raise InvalidBlock("election QC: a voter is not in genesis")
        if len(indexes) < genesis.quorum:
            raise InvalidBlock(
                f"election QC has {len(indexes)} votes, quorum is {genesis.quorum}"
            )


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


def evidence_hash(last_commit: CommitQC | None, election_qc: ElectionQC | None) -> bytes:
    carried = last_commit.to_bytes() if last_commit is not None else b""
    election = election_qc.to_bytes() if election_qc is not None else b""
    return encoded_evidence_hash(carried, election)


def encoded_evidence_hash(carried_qc: bytes, election_qc: bytes) -> bytes:
    """:func:`evidence_hash` from the two QCs' encodings (each empty when absent)."""
    return digest(EVIDENCE_TAG, carried_qc, election_qc)


@dataclass(frozen=True, slots=True)
class Block(Encoded):
    """A header with its body. ``last_commit`` is absent only at height 1; ``election_qc`` is
    absent only in blocks made outside consensus (tests, tools)."""

    header: BlockHeader
    transactions: tuple[Transaction, ...]
    results: tuple[SharingResult, ...]
    last_commit: CommitQC | None
    election_qc: ElectionQC | None
    # The canonical encoding, cached: a block received as bytes is stored as those bytes
    # rather than re-encoded (``dataclasses.replace`` starts a fresh cache).
    _encoded: bytes = field(default=b"", init=False, repr=False, compare=False)
    CACHED_ENCODING = "_encoded"

    TAG = TAG_BLOCK
    VERSION = 2
    FIELDS = (
        ("header", nested(BlockHeader)),
        ("transactions", sequence(tagged_union("transaction", decode_transaction, Transaction))),
        ("results", sequence(nested(SharingResult))),
        ("last_commit", optional(nested(CommitQC))),
        ("election_qc", optional(nested(ElectionQC))),
    )

    @classmethod
    def from_parts(
        cls, parts: BlockParts, transactions: Sequence[Transaction], encoded: bytes
    ) -> Block:
        """The block whose encoding ``encoded`` was split into ``parts``, with transactions
        the caller decoded from ``parts.transactions`` (a node hands in those it already
        decoded). Raises :class:`DecodeError` for a result or QC that does not decode, or a
        transaction whose encoding is not its part's."""
        if len(transactions) != len(parts.transactions) or any(
            tx.to_bytes() != raw for tx, raw in zip(transactions, parts.transactions, strict=True)
        ):
            raise DecodeError("Block: transactions do not match the encoded block")
        results = tuple(SharingResult.from_bytes(raw) for raw in parts.results)
        block = cls(parts.header, tuple(transactions), results, parts.last_commit, parts.election())
        block.remember_encoding(encoded)
        return block

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
    #: The election QC's encoding (empty when absent); :meth:`election` decodes it.
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
            elected, pos = fastread.boolean(data, pos)
            election_qc = b""
            if elected:
                election_qc, pos = fastread.blob(data, pos)
                if not election_qc:  # an encoding is never empty; empty stands for absent
                    raise DecodeError("empty election QC")
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

    def election(self) -> ElectionQC | None:
        """The decoded election QC; raises :class:`DecodeError`."""
        return ElectionQC.from_bytes(self.election_qc) if self.election_qc else None

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
