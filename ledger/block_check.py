"""The checks of one stored block that need only its bytes, its QC, the genesis and the indexes.

:func:`check_stored_block` is the CPU-heavy part of :func:`ledger.integrity.verify_ledger`: it
decodes the block, hashes its transactions, rebuilds the three body roots, checks that the
carried commit QC names the block's previous hash, verifies the stored commit QC's signatures,
and checks the transaction index entry of every transaction and the record of every PutRecord
against a :class:`ChainIndex` read beforehand. It needs no database handle, so the verifier may
run it in worker processes (:mod:`ledger.verify_pool`): a top-level function over picklable
arguments returning a picklable :class:`BlockSummary`. What depends on other blocks (the hash
link, the block-hash index, the two sub-chains) is checked by the caller from the summary, in
height order.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.errors import DecodeError
from ledger import schema
from ledger.block import BlockParts, SharingResult
from ledger.chain_index import ChainIndex
from ledger.errors import InvalidBlock
from ledger.genesis import Genesis
from ledger.qc import CommitQC, verify_commit_qc
from ledger.records import location_bytes
from ledger.transactions import AttributeChange, PutRecord, RegisterMember, put_record_id

#: Type tags of the transactions that extend a member's attribute-change chain.
ATTRIBUTE_TAGS = frozenset([RegisterMember.TAG, AttributeChange.TAG])


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
    wrong (then the caller first checks the attribute links of the transactions before it, as
    they come earlier in block order). ``attribute_txs`` holds ``(position, tx id, encoding)`` of
    registrations and attribute changes; ``results`` follows the block's order.
    """

    height: int
    error: str | None
    error_position: int | None = None
    block_hash: bytes = b""
    prev_hash: bytes = b""
    transactions: int = 0
    attribute_txs: tuple[tuple[int, bytes, bytes], ...] = ()
    results: tuple[ResultFacts, ...] = ()


def _result_facts(parts: BlockParts) -> tuple[ResultFacts, ...]:
    facts = []
    for raw, result_hash in zip(parts.results, parts.result_hashes(), strict=True):
        result = SharingResult.from_bytes(raw)
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


def _first_index_fault(
    height: int, tx_ids: list[bytes], transactions: tuple[bytes, ...], index: ChainIndex
) -> tuple[int, str] | None:
    """The first transaction (in block order) whose index entry or record is wrong.

    Raises :class:`DecodeError` if a transaction tagged as a PutRecord is too short to hold
    a record id.
    """
    tx_prefix = schema.TX
    keys = [tx_prefix + tx_id for tx_id in tx_ids]
    put_tag = PutRecord.TAG
    # The common case, checked in bulk: a record id sliced from a PutRecord too short to hold
    # one is shorter than every stored id, so it fails here and is reported below.
    records = [raw[2:34] for raw in transactions if raw and raw[0] == put_tag]
    if index.block_entries_are(height, keys) and index.record_ids.issuperset(records):
        return None
    for raw in transactions:
        if raw and raw[0] == put_tag:
            put_record_id(raw)  # a malformed PutRecord fails the whole block, as it comes first
    table = index.table()
    for position, key in enumerate(keys):
        entry = table.get(key)
        if entry is None:
            return position, f"transaction index entry {key.hex()} is missing"
        # Canonical encodings are unique, so comparing bytes is comparing values.
        if entry != location_bytes(height, position):
            return position, f"transaction index entry {key.hex()} is wrong"
        raw = transactions[position]
        if raw and raw[0] == put_tag:
            record_id = put_record_id(raw)
            if record_id not in index.record_ids:
                return position, f"record {record_id.hex()} is missing"
    return None  # an index entry naming this block belongs to no transaction of it


def check_stored_block(
    genesis: Genesis,
    index: ChainIndex,
    height: int,
    raw_block: bytes | None,
    raw_qc: bytes | None,
) -> BlockSummary:
    """Check the block stored at ``height`` with its stored commit QC (``None``: absent).

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
        results = _result_facts(parts)
        fault = _first_index_fault(height, tx_ids, parts.transactions, index)
    except (InvalidBlock, DecodeError) as exc:
        return BlockSummary(height, str(exc))
    attribute_txs = tuple(
        (position, tx_ids[position], raw)
        for position, raw in enumerate(parts.transactions)
        if raw and raw[0] in ATTRIBUTE_TAGS
    )
    return BlockSummary(
        height=height,
        error=None if fault is None else fault[1],
        error_position=None if fault is None else fault[0],
        block_hash=block_hash,
        prev_hash=header.prev_hash,
        transactions=len(tx_ids),
        attribute_txs=attribute_txs,
        results=results,
    )

