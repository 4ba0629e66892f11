"""Re-verify a stored ledger from genesis to its head.

:func:`verify_ledger` walks every block in height order and checks, raising
:class:`~ledger.errors.IntegrityError` at the first failure:

* each block is present, decodes, sits at its own height, links to the previous block hash,
  matches its body roots, and carries a commit QC that names the previous block;
* the stored commit QC of each block is a valid quorum over its hash;
* the block-hash and transaction-id indexes point at it, and every PutRecord's record exists;
* the sharing-audit chain holds, in order, exactly one link per unblacklisting and per sharing
  result (a block's transactions come before its results), each matching its transaction or
  result and linking to the previous link;
* each member's attribute-change chain holds one link per registration or attribute change,
  matching its transaction and linking to the member's previous link;
* the head record names the last block and the audit tip, and nothing lies beyond it.

It does not replay the state transition (state roots are checked when blocks are applied and are
attested by the commit QCs).

How it stays fast: blocks, QCs and audit records are read with ordered iterators rather than
point reads, as one-pass scans that bypass LevelDB's block cache; the transaction index, record
ids, block-hash index and attribute chain are each read in one scan and looked up in memory
(about 150 bytes per transaction while verifying). The per-block work (hashing, roots, QC
signatures: :func:`ledger.block_check.check_stored_block`) can be spread over ``workers``
processes (:mod:`ledger.verify_pool`), which start on the first blocks while this process reads
the indexes; this process then checks index entries, hash links and the sub-chains in height
order. A summary carries the position of a faulty index entry, so the first bad location
reported is the same whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from crypto.errors import DecodeError
from crypto.hashing import digest
from ledger import schema
from ledger.block_check import BlockSummary, check_index, check_stored_block
from ledger.chain_index import ChainIndex
from ledger.errors import IntegrityError
from ledger.genesis import Genesis
from ledger.kv import KeyValueStore
from ledger.records import (
    ATTRIBUTE_RECORD_TAG,
    AUDIT_RECORD_TAG,
    ZERO_HASH,
    AttributeRecord,
    AuditKind,
    AuditRecord,
    Head,
    Member,
    audit_record_bytes,
    location_bytes,
)
from ledger.transactions import AttributeChange, RegisterMember, Unblacklist, decode_transaction
from ledger.verify_pool import CheckPool, StoredItem

#: What an audit link must say besides its position and link: kind, the id of the request or
#: Unblacklist, record, member, granted, approvals, denials, result hash.
_AuditFacts = tuple[AuditKind, bytes, bytes, bytes, bool, int, int, bytes]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What a successful verification covered."""

    height: int
    transactions: int
    audit_records: int
    attribute_records: int


def read_head(store: KeyValueStore) -> Head:
    raw = store.get(schema.HEAD)
    if raw is None:
        raise IntegrityError("head", "head record is missing")
    try:
        return Head.from_bytes(raw)
    except DecodeError as exc:
        raise IntegrityError("head", f"head record does not decode: {exc}") from exc


class _Cursor:
    """Values of an ordered ``(key, value)`` iterator, taken by increasing expected key."""

    def __init__(self, items: Iterator[tuple[bytes, bytes]]) -> None:
        self._items = items
        self._pending = next(items, None)

    def take(self, key: bytes) -> bytes | None:
        """The value stored under ``key`` (keys must be asked in increasing order), or None."""
        pending = self._pending
        while pending is not None and pending[0] < key:
            pending = next(self._items, None)  # a stray key between expected ones
        if pending is not None and pending[0] == key:
            self._pending = next(self._items, None)
            return pending[1]
        self._pending = pending
        return None


def _stored_blocks(store: KeyValueStore, top: int) -> Iterator[StoredItem]:
    """``(height, block bytes, commit QC bytes)`` for heights 1..top, ``None`` where absent."""
    first, last = schema.block(1), schema.block(top + 1)
    blocks = _Cursor(store.iterate(schema.BLOCK, start=first, stop=last, scan=True))
    qcs = _Cursor(
        store.iterate(
            schema.COMMIT_QC, start=schema.commit_qc(1), stop=schema.commit_qc(top + 1), scan=True
        )
    )
    for height in range(1, top + 1):
        yield height, blocks.take(schema.block(height)), qcs.take(schema.commit_qc(height))


def read_index(store: KeyValueStore) -> ChainIndex:
    """The transaction index and the record ids, each read in one scan."""
    return ChainIndex.from_entries(
        store.iterate(schema.TX, scan=True),
        # Record ids are 32 bytes; a key of another length names no record a block can need.
        record_ids=frozenset(
            key[len(schema.RECORD) :]
            for key in store.keys(schema.RECORD, scan=True)
            if len(key) == len(schema.RECORD) + 32
        ),
    )


def _summaries(
    store: KeyValueStore, genesis: Genesis, top: int, workers: int
) -> Generator[BlockSummary, None, None]:
    """Every height's block checked (in ``workers`` processes if > 1), then its index entries,
    in height order."""
    items = _stored_blocks(store, top)
    if workers <= 1:
        index = read_index(store)
        for height, raw_block, raw_qc in items:
            yield check_index(check_stored_block(genesis, height, raw_block, raw_qc), index)
        return
    with CheckPool(genesis, items, workers) as pool:
        # The workers start on the first blocks while the index is read here.
        index = read_index(store)
        for summary in pool.summaries():
            yield check_index(summary, index)


class _Walker:
    """The checks that span blocks, done in height order from the block summaries."""

    def __init__(self, store: KeyValueStore, genesis: Genesis) -> None:
        self.store = store
        self.genesis = genesis
        self.audit_seq = 0
        self.audit_head = ZERO_HASH
        self.transactions = 0
        # member id -> (last seq, last link hash)
        self.attribute_tips: dict[bytes, tuple[int, bytes]] = {}
        # One scan per index instead of a point read per entry.
        self.block_index = dict(store.iterate(schema.BLOCK_BY_HASH, scan=True))
        self.attribute_links = dict(store.iterate(schema.ATTRIBUTE_CHAIN, scan=True))
        self.audit = _Cursor(store.iterate(schema.AUDIT, scan=True))

    def check_block(self, summary: BlockSummary, prev_hash: bytes) -> bytes:
        height = summary.height
        where = f"height {height}"
        if summary.error is not None and summary.error_position is None:
            raise IntegrityError(where, summary.error, height)
        if summary.prev_hash != prev_hash:
            raise IntegrityError(where, "block does not link to the previous block hash", height)
        key = schema.block_by_hash(summary.block_hash)
        raw = self.block_index.get(key)
        if raw is None:
            raise IntegrityError(where, f"block-hash index entry {key.hex()} is missing", height)
        if raw != location_bytes(height, 0):
            raise IntegrityError(where, f"block-hash index entry {key.hex()} is wrong", height)
        # Block order: sub-chain links of the transactions before a faulty index entry or
        # record come first.
        stop = summary.error_position
        for position, tx_id, raw_tx in summary.chain_txs:
            if stop is not None and position >= stop:
                break
            tx = decode_transaction(raw_tx)
            if isinstance(tx, Unblacklist):
                self.check_audit_link(
                    height,
                    (AuditKind.UNBLACKLIST, tx_id, ZERO_HASH, tx.member_id, False, 0, 0, ZERO_HASH),
                )
            elif isinstance(tx, RegisterMember | AttributeChange):
                self.check_attribute_link(height, tx_id, tx)
            else:  # pragma: no cover - block_check picks these types by tag
                raise IntegrityError(where, "transaction type changed", height)
        if summary.error is not None:
            raise IntegrityError(where, summary.error, height)
        self.transactions += summary.transactions
        for facts in summary.results:
            self.check_audit_link(
                height,
                (
                    AuditKind.DECISION,
                    facts.request_id,
                    facts.record_id,
                    facts.requester,
                    facts.granted,
                    facts.approvals,
                    facts.denials,
                    facts.result_hash,
                ),
            )
        return summary.block_hash

    def check_attribute_link(
        self, height: int, tx_id: bytes, tx: RegisterMember | AttributeChange
    ) -> None:
        member_id = tx.member_id
        tip = self.attribute_tips.get(member_id)
        seq, prev_hash = (0, ZERO_HASH) if tip is None else (tip[0] + 1, tip[1])
        where = f"attributes {member_id.hex()} #{seq}"
        raw = self.attribute_links.get(schema.attribute_record(member_id, seq))
        if raw is None:
            raise IntegrityError(where, "attribute-change record is missing", height)
        try:
            link = AttributeRecord.from_bytes(raw)
        except DecodeError as exc:
            raise IntegrityError(where, f"record does not decode: {exc}", height) from exc
        reason = tx.reason if isinstance(tx, AttributeChange) else "registered"
        expected = AttributeRecord(member_id, seq, tx.attributes, reason, height, tx_id, prev_hash)
        if link.prev_hash != prev_hash:
            raise IntegrityError(where, "record does not link to the previous record", height)
        if isinstance(tx, AttributeChange) and tx.seq != seq:
            raise IntegrityError(where, f"attribute change names chain position {tx.seq}", height)
        if link != expected:
            raise IntegrityError(where, "record does not match its transaction", height)
        # ``raw`` decoded exactly, so it is the canonical encoding the link hash covers.
        self.attribute_tips[member_id] = (seq, digest(ATTRIBUTE_RECORD_TAG, raw))

    def check_audit_link(self, height: int, fields: _AuditFacts) -> None:
        """Check the next audit link against ``fields`` (those of an :class:`AuditRecord`
        from ``kind`` to ``result_hash``)."""
        seq = self.audit_seq
        where = f"audit {seq}"
        raw = self.audit.take(schema.audit(seq))
        if raw is None:
            raise IntegrityError(where, "audit record is missing", height)
        kind, subject, record_id, member, granted, approvals, denials, result_hash = fields
        expected = audit_record_bytes(
            (
                seq, height, int(kind), subject, record_id, member, granted, approvals, denials,
                result_hash, self.audit_head,
            )
        )
        # Canonical encodings are unique: equal bytes are an equal record. Only a record that
        # differs is decoded, to say how it differs.
        if raw != expected:
            try:
                link = AuditRecord.from_bytes(raw)
            except DecodeError as exc:
                raise IntegrityError(where, f"audit record does not decode: {exc}", height) from exc
            if link.prev_hash != self.audit_head:
                raise IntegrityError(
                    where, "audit record does not link to the previous one", height
                )
            what = "sharing result" if kind is AuditKind.DECISION else "unblacklisting"
            raise IntegrityError(where, f"audit record does not match its {what}", height)
        self.audit_seq = seq + 1
        self.audit_head = digest(AUDIT_RECORD_TAG, raw)

    def check_tails(self, head: Head) -> None:
        if head.audit_length != self.audit_seq or head.audit_head != self.audit_head:
            raise IntegrityError("head", "head disagrees with the audit chain")
        if self.store.get(schema.audit(self.audit_seq)) is not None:
            raise IntegrityError(f"audit {self.audit_seq}", "audit record beyond the chain tip")
        if self.store.get(schema.block(head.height + 1)) is not None:
            raise IntegrityError(f"height {head.height + 1}", "block beyond the head")
        expected_links = sum(seq + 1 for seq, _ in self.attribute_tips.values())
        stored_links = len(self.attribute_links)
        if stored_links != expected_links:
            raise IntegrityError(
                "attributes", f"{stored_links} attribute records stored, {expected_links} expected"
            )
        for member_id, (seq, link_hash) in self.attribute_tips.items():
            where = f"member {member_id.hex()}"
            raw = self.store.get(schema.member(member_id))
            if raw is None:
                raise IntegrityError(where, "member record is missing")
            try:
                member = Member.from_bytes(raw)
            except DecodeError as exc:
                raise IntegrityError(where, "member record does not decode") from exc
            if (member.attribute_seq, member.attribute_head) != (seq, link_hash):
                raise IntegrityError(where, "member's attribute tip disagrees with its chain")


def verify_ledger(
    store: KeyValueStore,
    genesis: Genesis,
    *,
    workers: int = 1,
    progress: Callable[[int], object] | None = None,
) -> VerifyReport:
    """Check the whole stored ledger against ``genesis``; raises :class:`IntegrityError`.

    ``workers`` > 1 checks blocks in that many worker processes (worth it for long chains:
    starting them costs a fraction of a second); the result and the first bad location
    reported do not depend on it. ``progress`` is called with each height once it checked out.
    """
    stored_genesis = store.get(schema.GENESIS)
    if stored_genesis != genesis.to_bytes():
        raise IntegrityError("genesis", "stored genesis is missing or differs")
    head = read_head(store)
    walker = _Walker(store, genesis)
    prev_hash = genesis.hash()
    summaries = _summaries(store, genesis, head.height, workers)
    try:
        for summary in summaries:
            prev_hash = walker.check_block(summary, prev_hash)
            if progress is not None:
                progress(summary.height)
    finally:
        summaries.close()  # stops the worker pool at once when a check fails
    if head.block_hash != prev_hash:
        raise IntegrityError("head", "head names a different block hash", head.height)
    walker.check_tails(head)
    return VerifyReport(
        height=head.height,
        transactions=walker.transactions,
        audit_records=walker.audit_seq,
        attribute_records=sum(seq + 1 for seq, _ in walker.attribute_tips.values()),
    )
