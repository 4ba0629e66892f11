"""The checks of one stored block that need only its bytes, its QC, the genesis and the indexes.

:func:`check_stored_block` is the CPU-heavy part of :func:`ledger.integrity.verify_ledger`: it
decodes the block, hashes its transactions, rebuilds the three body roots, checks that the
carried commit QC names the block's previous hash, verifies the stored commit QC's signatures,
checks the shape of the election QC and of every sharing result (its votes: a quorum of
distinct genesis nodes, shares exactly on approvals, their signatures pinned by the commit QC
and checked when the block was applied; a denial with neither ciphertext nor shares, see
:mod:`ledger.decisions`) and reads what the rest of verification needs. It needs neither a
database handle nor the indexes, so the verifier may run it in worker processes
(:mod:`ledger.verify_pool`) from the start, while it reads the indexes itself: a top-level
function over picklable arguments returning a picklable :class:`BlockSummary`.
:func:`check_index` then checks the transaction index entry of every transaction and the record
of every PutRecord against a :class:`ChainIndex`; what depends on other blocks (the hash link,
the block-hash index, the two sub-chains) is checked by the caller from the summary, in height
order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from crypto.errors import DecodeError
from ledger import schema
from ledger.block import BlockParts, SharingResult
from ledger.chain_index import ChainIndex
from ledger.decisions import check_result_shape
from ledger.errors import InvalidBlock
from ledger.genesis import Genesis
from ledger.qc import CommitQC, check_access_votes, verify_commit_qc
from ledger.records import location_bytes
from ledger.transactions import (
    AttributeChange,
    PutRecord,
    RegisterMember,
    Unblacklist,
    put_record_id,
)

#: Type tags of the transactions that extend a sub-chain: a member's attribute-change chain
#: (registrations, attribute changes) or the sharing-audit chain (unblacklistings; sharing
#: results extend it too, after the block's transactions).
CHAIN_TAGS = frozenset([RegisterMember.TAG, AttributeChange.TAG, Unblacklist.TAG])
# The same as first bytes of an encoding (an empty encoding has none).
_CHAIN_FIRST_BYTES = frozenset(bytes([tag]) for tag in CHAIN_TAGS)
_PUT = bytes([PutRecord.TAG])


@dataclass(frozen=True, slots=True)
class ResultFacts:
    """What the sharing-audit chain must say about one sharing result of a block."""

    request_id: bytes
    record_id: bytes
    requester: bytes
    granted: bool
    approvals: int
    denials: int
    result_hash: bytes


@dataclass(frozen=True, slots=True)
class BlockSummary:
    """The outcome of :func:`check_stored_block` for the block at ``height``.

    ``error`` is ``None`` when every check passed. Otherwise it says which failed, and
    ``error_position`` is ``None`` for a fault of the block as a whole (then the other fields
    may be empty) or the position of the first transaction whose index entry or record is
    wrong (set by :func:`check_index`; the caller then first checks the sub-chain links of the
    transactions before it, as they come earlier in block order). ``chain_txs`` holds
    ``(position, tx id, encoding)`` of the transactions in :data:`CHAIN_TAGS`; ``results`` follows
    the block's order; for :func:`check_index`, ``tx_ids`` holds the block's transaction ids
    back to back, ``record_ids`` those of its PutRecords' records and ``record_positions`` the
    PutRecords' positions. (Flat byte strings, because summaries cross process boundaries and
    pickling a hundred small objects per block cost more than checking them.)
    """

    height: int
    error: str | None
    error_position: int | None = None
    block_hash: bytes = b""
    prev_hash: bytes = b""
    transactions: int = 0
    chain_txs: tuple[tuple[int, bytes, bytes], ...] = ()
    results: tuple[ResultFacts, ...] = ()
    tx_ids: bytes = b""
    record_ids: bytes = b""
    record_positions: tuple[int, ...] = ()


def _result_facts(genesis: Genesis, parts: BlockParts) -> tuple[ResultFacts, ...]:
    """What the audit chain must say of each result, once its votes' shape checked out."""
    facts = []
    for raw, result_hash in zip(parts.results, parts.result_hashes(), strict=True):
        result = SharingResult.from_bytes(raw)
        check_result_shape(result)
        check_access_votes(genesis, result.votes, granted=result.granted)
        approvals = sum(1 for vote in result.votes if vote.approve)
        facts.append(
            ResultFacts(
                request_id=result.request_id,
                record_id=result.record_id,
                requester=result.requester,
                granted=result.granted,
                approvals=approvals,
                denials=len(result.votes) - approvals,
                result_hash=result_hash,
            )
        )
    return tuple(facts)


def _put_records(transactions: tuple[bytes, ...]) -> tuple[tuple[int, ...], bytes]:
    """The positions of the PutRecords and their record ids back to back; raises
    :class:`DecodeError` if one is too short to hold a record id."""
    positions = tuple([position for position, raw in enumerate(transactions) if raw[:1] == _PUT])
    record_ids = b"".join([transactions[position][2:34] for position in positions])
    if len(record_ids) != 32 * len(positions):
        for position in positions:
            put_record_id(transactions[position])  # raises for the first short one
    return positions, record_ids


def _split(joined: bytes) -> list[bytes]:
    """32-byte ids stored back to back."""
    return [joined[i : i + 32] for i in range(0, len(joined), 32)]


def _first_index_fault(summary: BlockSummary, index: ChainIndex) -> tuple[int, str] | None:
    """The first transaction (in block order) whose index entry or record is wrong."""
    tx_ids = _split(summary.tx_ids)
    record_ids = _split(summary.record_ids)
    # The common case, checked in bulk.
    if index.block_entries_are(summary.height, tx_ids) and index.record_ids.issuperset(
        record_ids
    ):
        return None
    table = index.table()
    records = dict(zip(summary.record_positions, record_ids, strict=True))
    for position, tx_id in enumerate(tx_ids):
        key = schema.TX + tx_id
        entry = table.get(key)
        if entry is None:
            return position, f"transaction index entry {key.hex()} is missing"
        # Canonical encodings are unique, so comparing bytes is comparing values.
        if entry != location_bytes(summary.height, position):
            return position, f"transaction index entry {key.hex()} is wrong"
        record_id = records.get(position)
        if record_id is not None and record_id not in index.record_ids:
            return position, f"record {record_id.hex()} is missing"
    return None  # an index entry naming this block belongs to no transaction of it


def check_index(summary: BlockSummary, index: ChainIndex) -> BlockSummary:
    """``summary`` with its block's first wrong transaction index entry or missing record
    recorded (see :class:`BlockSummary`), or as it is if there is none or it already failed."""
    if summary.error is not None:
        return summary
    fault = _first_index_fault(summary, index)
    if fault is None:
        return summary
    position, error = fault
    return dataclasses.replace(summary, error=error, error_position=position)


def check_stored_block(
    genesis: Genesis, height: int, raw_block: bytes | None, raw_qc: bytes | None
) -> BlockSummary:
    """Check the block stored at ``height`` with its stored commit QC (``None``: absent); the
    index checks are left to :func:`check_index`.

    Never raises for bad data: a failed check comes back as :attr:`BlockSummary.error`.
    """
    if raw_block is None:
        return BlockSummary(height, "block is missing")
    try:
        parts = BlockParts.from_bytes(raw_block)
    except DecodeError as exc:
        return BlockSummary(height, f"block does not decode: {exc}")
    header = parts.header
    if header.height != height:
        return BlockSummary(height, f"block claims height {header.height}")
    block_hash = header.hash()
    try:
        if header.chain_id != genesis.chain_id:
            raise InvalidBlock("block belongs to another chain")
        tx_ids = parts.tx_ids()
        parts.check_body(tx_ids)
        # The carried QC of the previous block is pinned by this header's evidence hash, which
        # this block's own QC signs; its signatures were checked when it was applied, so here
        # it only has to name the previous block (the caller checks that hash links).
        carried = parts.last_commit
        if height > 1 and (
            carried is None
            or (carried.height, carried.block_hash) != (height - 1, header.prev_hash)
        ):
            raise InvalidBlock("carried commit QC does not name the previous block")
        if raw_qc is None:
            raise InvalidBlock("commit QC is missing")
        qc = CommitQC.from_bytes(raw_qc)
        verify_commit_qc(genesis, qc, height=height, block_hash=block_hash)
        election = parts.election()
        if election is not None:
            election.check(genesis)
        results = _result_facts(genesis, parts)
        record_positions, record_ids = _put_records(parts.transactions)
    except (InvalidBlock, DecodeError) as exc:
        return BlockSummary(height, str(exc))
    chain_txs = tuple(
        [
            (position, tx_ids[position], raw)
            for position, raw in enumerate(parts.transactions)
            if raw[:1] in _CHAIN_FIRST_BYTES
        ]
    )
    return BlockSummary(
        height=height,
        error=None,
        block_hash=block_hash,
        prev_hash=header.prev_hash,
        transactions=len(tx_ids),
        chain_txs=chain_txs,
        results=results,
        tx_ids=b"".join(tx_ids),
        record_ids=record_ids,
        record_positions=record_positions,
    )
