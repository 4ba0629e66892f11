"""Re-verify a stored ledger from genesis to its head.

:func:`verify_ledger` walks every block in height order and checks, raising
:class:`~ledger.errors.IntegrityError` at the first failure:

* each block is present, decodes, sits at its own height, links to the previous block hash,
  matches its body roots, and carries a valid commit QC of the previous block;
* the stored commit QC of each block is a valid quorum over its hash;
* the block-hash and transaction-id indexes point at it;
* the sharing-audit chain holds, in order, exactly one link per sharing result, each matching
  its result and linking to the previous link;
* each member's attribute-change chain holds one link per registration or attribute change,
  matching its transaction and linking to the member's previous link;
* the head record names the last block and the audit tip, and nothing lies beyond it.

It does not replay the state transition (state roots are checked when blocks are applied and are
attested by the commit QCs).
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.errors import DecodeError
from ledger import schema
from ledger.block import BlockParts, SharingResult
from ledger.errors import IntegrityError, InvalidBlock
from ledger.genesis import Genesis
from ledger.kv import KeyValueStore
from ledger.qc import CommitQC, verify_commit_qc
from ledger.records import ZERO_HASH, AttributeRecord, AuditRecord, Head, Member, location_bytes
from ledger.transactions import (
    AttributeChange,
    PutRecord,
    RegisterMember,
    decode_transaction,
    put_record_id,
)


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


class _Walker:
    def __init__(self, store: KeyValueStore, genesis: Genesis) -> None:
        self.store = store
        self.genesis = genesis
        self.audit_seq = 0
        self.audit_head = ZERO_HASH
        self.transactions = 0
        # member id -> (last seq, last link hash)
        self.attribute_tips: dict[bytes, tuple[int, bytes]] = {}

    def block_at(self, height: int) -> BlockParts:
        where = f"height {height}"
        raw = self.store.get(schema.block(height))
        if raw is None:
            raise IntegrityError(where, "block is missing", height)
        try:
            block = BlockParts.from_bytes(raw)
        except DecodeError as exc:
            raise IntegrityError(where, f"block does not decode: {exc}", height) from exc
        if block.header.height != height:
            raise IntegrityError(where, f"block claims height {block.header.height}", height)
        return block

    def check_block(self, height: int, prev_hash: bytes) -> bytes:
        where = f"height {height}"
        block = self.block_at(height)
        header = block.header
        block_hash = header.hash()
        tx_ids = block.tx_ids()
        try:
            if header.chain_id != self.genesis.chain_id:
                raise InvalidBlock("block belongs to another chain")
            if header.prev_hash != prev_hash:
                raise InvalidBlock("block does not link to the previous block hash")
            block.check_body(tx_ids)
            # The carried QC of the previous block is pinned by this header's evidence hash,
            # which this block's own QC signs; its signatures were checked when it was applied,
            # so here it only has to name the right block.
            carried = block.last_commit
            if height > 1 and (
                carried is None or (carried.height, carried.block_hash) != (height - 1, prev_hash)
            ):
                raise InvalidBlock("carried commit QC does not name the previous block")
            raw_qc = self.store.get(schema.commit_qc(height))
            if raw_qc is None:
                raise InvalidBlock("commit QC is missing")
            qc = CommitQC.from_bytes(raw_qc)
            verify_commit_qc(self.genesis, qc, height=height, block_hash=block_hash)
        except (InvalidBlock, DecodeError) as exc:
            raise IntegrityError(where, str(exc), height) from exc
        self.check_location(schema.block_by_hash(block_hash), height, 0, where, "block-hash index")
        for position, (raw, tx_id) in enumerate(zip(block.transactions, tx_ids, strict=True)):
            self.check_location(schema.tx(tx_id), height, position, where, "transaction index")
            tag = raw[0]
            if tag in (RegisterMember.TAG, AttributeChange.TAG):
                tx = decode_transaction(raw)
                if not isinstance(tx, RegisterMember | AttributeChange):  # pragma: no cover
                    raise IntegrityError(where, "transaction type changed", height)
                self.check_attribute_link(height, tx_id, tx)
            elif tag == PutRecord.TAG:
                record_id = put_record_id(raw)
                if self.store.get(schema.record(record_id)) is None:
                    raise IntegrityError(where, f"record {record_id.hex()} is missing", height)
        self.transactions += len(block.transactions)
        for raw_result in block.results:
            self.check_audit_link(height, SharingResult.from_bytes(raw_result))
        return block_hash

    def check_location(
        self, key: bytes, height: int, position: int, where: str, index: str
    ) -> None:
        raw = self.store.get(key)
        if raw is None:
            raise IntegrityError(where, f"{index} entry {key.hex()} is missing", height)
        # Canonical encodings are unique, so comparing bytes is comparing values.
        if raw != location_bytes(height, position):
            raise IntegrityError(where, f"{index} entry {key.hex()} is wrong", height)

    def check_attribute_link(
        self, height: int, tx_id: bytes, tx: RegisterMember | AttributeChange
    ) -> None:
        member_id = tx.member_id
        tip = self.attribute_tips.get(member_id)
        seq, prev_hash = (0, ZERO_HASH) if tip is None else (tip[0] + 1, tip[1])
        where = f"attributes {member_id.hex()} #{seq}"
        raw = self.store.get(schema.attribute_record(member_id, seq))
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
        if link != expected:
            raise IntegrityError(where, "record does not match its transaction", height)
        self.attribute_tips[member_id] = (seq, link.hash())

    def check_audit_link(self, height: int, result: SharingResult) -> None:
        seq = self.audit_seq
        where = f"audit {seq}"
        raw = self.store.get(schema.audit(seq))
        if raw is None:
            raise IntegrityError(where, "audit record is missing", height)
        try:
            link = AuditRecord.from_bytes(raw)
        except DecodeError as exc:
            raise IntegrityError(where, f"audit record does not decode: {exc}", height) from exc
        if link.prev_hash != self.audit_head:
            raise IntegrityError(where, "audit record does not link to the previous one", height)
        approvals = sum(1 for vote in result.votes if vote.approve)
        expected = AuditRecord(
            seq=seq,
            height=height,
            request_id=result.request_id,
            record_id=result.record_id,
            requester=result.requester,
            granted=result.granted,
            approvals=approvals,
            denials=len(result.votes) - approvals,
            result_hash=result.hash(),
            prev_hash=self.audit_head,
        )
        if link != expected:
            raise IntegrityError(where, "audit record does not match its sharing result", height)
        self.audit_seq = seq + 1
        self.audit_head = link.hash()

    def check_tails(self, head: Head) -> None:
        if head.audit_length != self.audit_seq or head.audit_head != self.audit_head:
            raise IntegrityError("head", "head disagrees with the audit chain")
        if self.store.get(schema.audit(self.audit_seq)) is not None:
            raise IntegrityError(f"audit {self.audit_seq}", "audit record beyond the chain tip")
        if self.store.get(schema.block(head.height + 1)) is not None:
            raise IntegrityError(f"height {head.height + 1}", "block beyond the head")
        expected_links = sum(seq + 1 for seq, _ in self.attribute_tips.values())
        stored_links = sum(1 for _ in self.store.iterate(schema.ATTRIBUTE_CHAIN))
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


def verify_ledger(store: KeyValueStore, genesis: Genesis) -> VerifyReport:
    """Check the whole stored ledger against ``genesis``; raises :class:`IntegrityError`."""
    stored_genesis = store.get(schema.GENESIS)
    if stored_genesis != genesis.to_bytes():
        raise IntegrityError("genesis", "stored genesis is missing or differs")
    head = read_head(store)
    walker = _Walker(store, genesis)
    prev_hash = genesis.hash()
    for height in range(1, head.height + 1):
        prev_hash = walker.check_block(height, prev_hash)
    if head.block_hash != prev_hash:
        raise IntegrityError("head", "head names a different block hash", head.height)
    walker.check_tails(head)
    return VerifyReport(
        height=head.height,
        transactions=walker.transactions,
        audit_records=walker.audit_seq,
        attribute_records=sum(seq + 1 for seq, _ in walker.attribute_tips.values()),
    )
