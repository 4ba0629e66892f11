"""Read-only queries for the node's API and the explorer, each answered from a key or an index.

:class:`LedgerQueries` is mixed into :class:`ledger.ledger.Ledger`; it needs only ``self.store``.
Lists come back in key order (records by record id, audit records by audit sequence, attribute
records by chain position) and stop after ``limit`` items when one is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import TypeVar

from ledger import schema
from ledger.block import Block, BlockHeader, BlockParts, header_of
from ledger.block_trees import BlockTrees, HeightCache
from ledger.kv import KeyValueStore
from ledger.qc import CommitQC
from ledger.records import (
    AttributeRecord,
    AuditRecord,
    BlacklistEntry,
    Counter,
    GrantEntry,
    Head,
    Location,
    Member,
    RecordEntry,
    Revocation,
)
from ledger.transactions import AccessRequest, Transaction, decode_transaction

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A block with the commit QC stored beside it."""

    block: Block
    commit_qc: CommitQC


@dataclass(frozen=True, slots=True)
class StoredTransaction:
    """A transaction and where it was committed."""

    transaction: Transaction
    height: int
    position: int


def _limited(items: Iterator[T], limit: int | None) -> list[T]:
    return list(items if limit is None else islice(items, limit))


class LedgerQueries:
    """Query methods over ``self.store``."""

    store: KeyValueStore
    _block_trees: BlockTrees | None = None
    _headers: HeightCache[BlockHeader | None] | None = None

    def _load(self, key: bytes, decode: Callable[[bytes], T]) -> T | None:
        raw = self.store.get(key)
        return None if raw is None else decode(raw)

    # -- blocks and transactions ---------------------------------------------------------------

    def committed_height(self) -> int:
        """The height of the last committed block (0 before the first)."""
        head = self._load(schema.HEAD, Head.from_bytes)
        return 0 if head is None else head.height

    def block_trees(self) -> BlockTrees:
        """This object's own cache of committed blocks' Merkle trees (:mod:`ledger.block_trees`),
        which inclusion proofs use."""
        if self._block_trees is None:
            self._block_trees = BlockTrees()
        return self._block_trees

    def block(self, height: int) -> StoredBlock | None:
        """The block at ``height`` with its commit QC, or ``None``."""
        block = self._load(schema.block(height), Block.from_bytes)
        qc = self._load(schema.commit_qc(height), CommitQC.from_bytes)
        if block is None or qc is None:
            return None
        return StoredBlock(block, qc)

    def encoded_block(self, height: int) -> bytes | None:
        """The stored encoding of the block at ``height`` (not decoded), or ``None``."""
        return self.store.get(schema.block(height))

    def commit_qc(self, height: int) -> CommitQC | None:
        """The commit QC stored with the block at ``height``, or ``None``."""
        return self._load(schema.commit_qc(height), CommitQC.from_bytes)

    def block_by_hash(self, block_hash: bytes) -> StoredBlock | None:
        location = self._load(schema.block_by_hash(block_hash), Location.from_bytes)
        return None if location is None else self.block(location.height)

    def blocks(self, start: int, stop: int, *, limit: int | None = 100) -> list[StoredBlock]:
        """Blocks with ``start <= height < stop`` in height order."""
        start = max(start, 1)
        out: list[StoredBlock] = []
        if stop <= start:
            return out
        blocks = self.store.iterate(
            schema.BLOCK, start=schema.block(start), stop=schema.block(stop)
        )
        for key, raw_block in blocks:
            raw_qc = self.store.get(schema.commit_qc(schema.trailing_u64(key)))
            if raw_qc is None:
                continue  # not committed as far as this store knows; verify reports it
            out.append(StoredBlock(Block.from_bytes(raw_block), CommitQC.from_bytes(raw_qc)))
            if limit is not None and len(out) >= limit:
                break
        return out

    def block_headers(
        self, start: int, stop: int, *, limit: int | None = 100
    ) -> list[BlockHeader]:
        """Headers of blocks with ``start <= height < stop`` (cheap: bodies stay undecoded, and
        the headers of recently asked committed heights are kept decoded)."""
        start = max(start, 1)
        if stop <= start:
            return []
        if self._headers is None:
            self._headers = HeightCache()
        headers, tip = self._headers, self.committed_height()
        out: list[BlockHeader] = []
        height = start
        while height < min(stop, tip + 1) and (limit is None or len(out) < limit):
            load = partial(self._load, schema.block(height), header_of)
            header = headers.get(height, tip, load)
            if header is not None:
                out.append(header)
            height += 1
        if height < stop and (limit is None or len(out) < limit):
            # Blocks written above the tip (not committed as far as this object knows).
            items = self.store.iterate(
                schema.BLOCK, start=schema.block(height), stop=schema.block(stop)
            )
            left = None if limit is None else limit - len(out)
            out += _limited((header_of(raw) for _, raw in items), left)
        return out

    def has_transaction(self, tx_id: bytes) -> bool:
        """Whether a committed block holds the transaction (one read of the tx index)."""
        return self.store.get(schema.tx(tx_id)) is not None

    def transaction_location(self, tx_id: bytes) -> Location | None:
        """The height and position of committed transaction ``tx_id`` (the block is not read)."""
        return self._load(schema.tx(tx_id), Location.from_bytes)

    def transaction(self, tx_id: bytes) -> StoredTransaction | None:
        location = self.transaction_location(tx_id)
        if location is None:
            return None
        raw = self.store.get(schema.block(location.height))
        if raw is None:
            return None
        # Decode only the one transaction, not the whole block.
        encoded = BlockParts.from_bytes(raw).transactions[location.position]
        tx = decode_transaction(encoded)
        return StoredTransaction(tx, location.height, location.position)

    # -- members, records, grants --------------------------------------------------------------

    def member(self, member_id: bytes) -> Member | None:
        return self._load(schema.member(member_id), Member.from_bytes)

    def members(self, *, after: bytes | None = None, limit: int | None = 100) -> list[Member]:
        """Members in member id order, starting just past ``after`` when it is given."""
        start = None if after is None else schema.member(after) + b"\x00"
        items = self.store.iterate(schema.MEMBER, start=start)
        return _limited((Member.from_bytes(raw) for _, raw in items), limit)

    def record(self, record_id: bytes) -> RecordEntry | None:
        return self._load(schema.record(record_id), RecordEntry.from_bytes)

    def _records_from_index(self, prefix: bytes, limit: int | None) -> list[RecordEntry]:
        out = []
        for key, _ in self.store.iterate(prefix):
            entry = self.record(schema.trailing_id(key))
            if entry is not None:
                out.append(entry)
            if limit is not None and len(out) >= limit:
                break
        return out

    def records_by_owner(self, owner: bytes, *, limit: int | None = None) -> list[RecordEntry]:
        return self._records_from_index(schema.prefixed(schema.RECORDS_BY_OWNER, owner), limit)

    def records_by_keywords(
        self, keywords_hash: bytes, *, limit: int | None = None
    ) -> list[RecordEntry]:
        prefix = schema.prefixed(schema.RECORDS_BY_KEYWORDS, keywords_hash)
        return self._records_from_index(prefix, limit)

    def grants(self, record_id: bytes) -> list[GrantEntry]:
        """Active (not revoked) grants of ``record_id``, expired ones included."""
        prefix = schema.prefixed(schema.GRANT, record_id)
        return [GrantEntry.from_bytes(raw) for _, raw in self.store.iterate(prefix)]

    def grant(self, record_id: bytes, grantee: bytes) -> GrantEntry | None:
        return self._load(schema.grant(record_id, grantee), GrantEntry.from_bytes)

    def revocations(self, record_id: bytes) -> list[Revocation]:
        prefix = schema.prefixed(schema.REVOCATION, record_id)
        return [Revocation.from_bytes(raw) for _, raw in self.store.iterate(prefix)]

    # -- access control state ------------------------------------------------------------------

    def pending_request(self, request_id: bytes) -> AccessRequest | None:
        """An access request that has no sharing result yet."""
        return self._load(schema.pending_request(request_id), AccessRequest.from_bytes)

    def nonce_used(self, requester: bytes, nonce: bytes) -> bool:
        return self.store.get(schema.nonce(requester, nonce)) is not None

    def access_count(self, requester: bytes, record_id: bytes) -> int:
        counter = self._load(schema.access_count(requester, record_id), Counter.from_bytes)
        return 0 if counter is None else counter.value

    def denial_count(self, requester: bytes) -> int:
        counter = self._load(schema.denials(requester), Counter.from_bytes)
        return 0 if counter is None else counter.value

    def is_blacklisted(self, member_id: bytes) -> bool:
        return self.store.get(schema.blacklist(member_id)) is not None

    def blacklist_entry(self, member_id: bytes) -> BlacklistEntry | None:
        """When and after how many denials ``member_id`` was blacklisted, if it is."""
        return self._load(schema.blacklist(member_id), BlacklistEntry.from_bytes)

    def blacklist(self, *, limit: int | None = None) -> list[BlacklistEntry]:
        items = (BlacklistEntry.from_bytes(raw) for _, raw in self.store.iterate(schema.BLACKLIST))
        return _limited(items, limit)

    # -- the two sub-chains --------------------------------------------------------------------

    def attribute_history(self, member_id: bytes) -> list[AttributeRecord]:
        """Every link of ``member_id``'s attribute-change chain, registration first."""
        prefix = schema.attribute_chain(member_id)
        return [AttributeRecord.from_bytes(raw) for _, raw in self.store.iterate(prefix)]

    def audit_record(self, seq: int) -> AuditRecord | None:
        return self._load(schema.audit(seq), AuditRecord.from_bytes)

    def _audit_from_index(self, keys: Iterator[tuple[bytes, bytes]], limit: int | None) -> list[
        AuditRecord
    ]:
        out = []
        for key, _ in keys:
            record = self.audit_record(schema.trailing_u64(key))
            if record is not None:
                out.append(record)
            if limit is not None and len(out) >= limit:
                break
        return out

    def audit_by_record(self, record_id: bytes, *, limit: int | None = None) -> list[AuditRecord]:
        keys = self.store.iterate(schema.prefixed(schema.AUDIT_BY_RECORD, record_id))
        return self._audit_from_index(keys, limit)

    def audit_by_requester(
        self, requester: bytes, *, limit: int | None = None
    ) -> list[AuditRecord]:
        keys = self.store.iterate(schema.prefixed(schema.AUDIT_BY_REQUESTER, requester))
        return self._audit_from_index(keys, limit)

    def audit_by_heights(
        self, start: int, stop: int, *, limit: int | None = None
    ) -> list[AuditRecord]:
        """Audit records of blocks with ``start <= height < stop``."""
        if stop <= start:
            return []
        keys = self.store.iterate(
            schema.AUDIT_BY_HEIGHT,
            start=schema.audit_by_height(start, 0),
            stop=schema.audit_by_height(stop, 0),
        )
        return self._audit_from_index(keys, limit)
