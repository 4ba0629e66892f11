"""The checks of one stored block that need nothing but its bytes, its QC and the genesis.

:func:`check_stored_block` is the CPU-heavy half of :func:`ledger.integrity.verify_ledger`: it
decodes the block, hashes its transactions, rebuilds the three body roots, checks that the
carried commit QC names the block's previous hash and verifies the stored commit QC's signatures.
It needs no database, so the verifier may run it in worker processes (it is a top-level function
over picklable arguments and returns a picklable :class:`BlockSummary`). What depends on other
blocks or on indexes (the link to the previous block, index entries, sub-chains) is checked by
the caller from the summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.errors import DecodeError
from ledger.block import BlockParts, SharingResult
from ledger.errors import InvalidBlock
from ledger.genesis import Genesis
from ledger.qc import CommitQC, verify_commit_qc
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

    ``error`` is ``None`` when every block-local check passed; otherwise it says which one
    failed and the other fields may be empty. ``attribute_txs`` holds ``(position, encoded
    transaction)`` of registrations and attribute changes; ``record_ids`` holds ``(position,
    record id)`` of PutRecords; ``results`` follows the block's order.
    """

    height: int
    error: str | None
    block_hash: bytes = b""
    prev_hash: bytes = b""
    tx_ids: tuple[bytes, ...] = ()
    attribute_txs: tuple[tuple[int, bytes], ...] = ()
    record_ids: tuple[tuple[int, bytes], ...] = ()
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


def check_stored_block(
    genesis: Genesis, height: int, raw_block: bytes | None, raw_qc: bytes | None
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
        attribute_txs = []
        record_ids = []
        for position, raw in enumerate(parts.transactions):
            tag = raw[0] if raw else -1
            if tag in ATTRIBUTE_TAGS:
                attribute_txs.append((position, raw))
            elif tag == PutRecord.TAG:
                record_ids.append((position, put_record_id(raw)))
    except (InvalidBlock, DecodeError) as exc:
        return BlockSummary(height, str(exc))
    return BlockSummary(
        height=height,
        error=None,
        block_hash=block_hash,
        prev_hash=header.prev_hash,
        tx_ids=tuple(tx_ids),
        attribute_txs=tuple(attribute_txs),
        record_ids=tuple(record_ids),
        results=results,
    )


# -- worker-process side ---------------------------------------------------------------------

_worker_genesis: Genesis | None = None


def init_worker(genesis_bytes: bytes) -> None:
    """Process-pool initializer: decode the genesis once per worker."""
    global _worker_genesis
    _worker_genesis = Genesis.from_bytes(genesis_bytes)


def check_chunk(items: list[tuple[int, bytes | None, bytes | None]]) -> list[BlockSummary]:
    """Run :func:`check_stored_block` over ``(height, block, qc)`` items in a worker."""
    genesis = _worker_genesis
    if genesis is None:  # pragma: no cover - the pool always runs init_worker first
        raise RuntimeError("worker was not initialised with a genesis")
    return [check_stored_block(genesis, h, raw, qc) for h, raw, qc in items]
