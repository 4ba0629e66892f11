"""The state transition: validate a block against the current state and compute its writes.

Once :func:`ledger.header_check.check_header` has checked the header and body roots against the
chain tip and genesis, :func:`execute` validates every transaction and sharing result in order
(each one sees the effects of those before it; keys and grants must also pass
:mod:`ledger.content`, ordered transactions :mod:`ledger.ordering`, denials and unblacklistings
:mod:`ledger.blacklist`, devices and their records :mod:`ledger.devices`, results
:mod:`ledger.decisions`) and returns the state writes, the new state root and the new tip of
the sharing-audit chain. Nothing is written here: :class:`ledger.ledger.Ledger` adds the
block-store keys and commits everything in one atomic batch. Any rule broken raises
:class:`~ledger.errors.InvalidTransaction`, so a block is applied whole or not at all.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.codec import Writer
from crypto.errors import VerificationError
from crypto.hashing import digest
from crypto.signing import VerifyKey
from ledger import authority_state, blacklist, content, devices, ordering, schema
from ledger.block import Block, SharingResult
from ledger.decisions import check_result_shape
from ledger.errors import InvalidBlock, InvalidTransaction
from ledger.genesis import Genesis
from ledger.kv import KeyValueStore
from ledger.merkle import merkle_root
from ledger.qc import verify_access_votes
from ledger.records import (
    ZERO_HASH,
    AttributeRecord,
    AuditKind,
    AuditRecord,
    Counter,
    GrantEntry,
    Head,
    Location,
    Member,
    RecordEntry,
    Revocation,
)
from ledger.signatures import preverify
from ledger.transactions import (
    AccessRequest,
    AttributeChange,
    Grant,
    KeyUpdate,
    MemberRole,
    PublishAttributeKey,
    PutRecord,
    RegisterDevice,
    RegisterMember,
    RekeyDevice,
    Revoke,
    RotateDomainKey,
    Transaction,
    Unblacklist,
)

STATE_ROOT_TAG = b"iomtshare/ledger/state-root/v1"
#: The transactions only the authority signs.
AUTHORITY_SIGNED = (
    RegisterMember, AttributeChange, Unblacklist, PublishAttributeKey, RotateDomainKey,
    RegisterDevice, RekeyDevice,
)
GENESIS_STATE_TAG = b"iomtshare/ledger/genesis-state/v1"


def genesis_head(genesis: Genesis) -> Head:
    """The tip before any block: height 0, anchored at the genesis hash."""
    genesis_hash = genesis.hash()
    return Head(
        height=0,
        block_hash=genesis_hash,
        state_root=digest(GENESIS_STATE_TAG, genesis_hash),
        time_ms=genesis.genesis_time_ms,
        audit_length=0,
        audit_head=ZERO_HASH,
    )


def state_leaf(key: bytes, value: bytes | None) -> bytes:
    """The Merkle leaf of one state write: ``Writer().blob(key).boolean(put).blob(value)``."""
    return Writer().blob(key).boolean(value is not None).blob(value or b"").to_bytes()


_U32 = struct.Struct(">I").pack


def state_root(prev_root: bytes, height: int, ops: dict[bytes, bytes | None]) -> bytes:
    """Chain a Merkle root of this block's sorted state writes onto the previous state root."""
    # The leaves are :func:`state_leaf` built inline: a block writes hundreds of keys.
    leaves = [
        _U32(len(key)) + key + b"\x01" + _U32(len(value)) + value
        if value is not None
        else _U32(len(key)) + key + b"\x00\x00\x00\x00\x00"
        for key, value in sorted(ops.items())
    ]
    return digest(STATE_ROOT_TAG, prev_root, height.to_bytes(8, "big"), merkle_root(leaves))


_RECORD_ENTRY_PREFIX = bytes([RecordEntry.TAG, RecordEntry.VERSION])


def record_entry_bytes(tx: PutRecord, height: int, tx_id: bytes) -> bytes:
    """The encoded :class:`RecordEntry` that ``tx`` creates at ``height``.

    A RecordEntry lists PutRecord's fields in the same order and kinds (without the signature),
    then the height and the transaction id, so its encoding is spliced from the transaction's
    instead of being rebuilt field by field (a block may publish a hundred records);
    ``tests/ledger/test_encoding.py`` checks it equals the field-by-field encoding. A record
    that names a device ends its body with the device id, which the entry does not keep (the
    record's transaction, at ``tx_id``, names it).
    """
    body = tx.body_bytes()[2:-32] if tx.device_id else tx.body_bytes()[2:]
    return _RECORD_ENTRY_PREFIX + body + struct.pack(">Q", height) + tx_id


@dataclass(frozen=True, slots=True)
class Execution:
    """The outcome of executing one block: its state writes and the new tip values."""

    state_ops: dict[bytes, bytes | None]
    state_root: bytes
    audit_length: int
    audit_head: bytes


class _Executor:
    """Applies one block's items to an overlay of pending writes over the store."""

    def __init__(
        self, genesis: Genesis, store: KeyValueStore, head: Head, block: Block,
        tx_ids: Sequence[bytes],
    ) -> None:
        self.genesis = genesis
        self.tx_ids = tx_ids
        self.store = store
        self.block = block
        self.height = block.header.height
        self.time_ms = block.header.time_ms
        self.ops: dict[bytes, bytes | None] = {}
        # Store reads of this block, so a key touched by many items is read once.
        self.reads: dict[bytes, bytes | None] = {}
        self.audit_length = head.audit_length
        self.audit_head = head.audit_head
        self.prev_state_root = head.state_root
        self.seen_tx_ids: set[bytes] = set()
        self.members: dict[bytes, Member] = {}
        # Transaction index -> the key its signature was found valid under (see preverify).
        self.preverified: dict[int, bytes] = {}
        # Access requests of this block by id, so their results need not decode them again.
        self.requests: dict[bytes, AccessRequest] = {}
        self.what = "transaction"
        self.index = 0

    # -- overlay ------------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        if key in self.ops:
            return self.ops[key]
        if key in self.reads:
            return self.reads[key]
        value = self.reads[key] = self.store.get(key)
        return value

    def put(self, key: bytes, value: bytes | None) -> None:
        """Write ``value`` under ``key`` in this block's overlay; ``None`` deletes it."""
        self.ops[key] = value

    def fail(self, reason: str, state_dependent: bool = False) -> InvalidTransaction:
        return InvalidTransaction(self.what, self.index, reason, state_dependent=state_dependent)

    def member(self, member_id: bytes, role: str) -> Member:
        raw = self.get(schema.member(member_id))
        if raw is None:
            raise self.fail(f"{role} {member_id.hex()[:16]} is not a registered member", True)
        return self.decoded_member(raw)

    def decoded_member(self, raw: bytes) -> Member:
        # Blocks touch the same few members many times; decode each stored version once.
        cached = self.members.get(raw)
        if cached is None:
            cached = self.members[raw] = Member.from_bytes(raw)
        return cached

    def record(self, record_id: bytes) -> RecordEntry:
        raw = self.get(schema.record(record_id))
        if raw is None:
            raise self.fail(f"record {record_id.hex()[:16]} does not exist", True)
        return RecordEntry.from_bytes(raw)

    def check_signature(
        self, tx: Transaction, key: bytes, signer: str, *, fixed_key: bool | None = None
    ) -> None:
        """``fixed_key``: whether ``key`` can never change (the authority's and the edges' come
        from the genesis); by default only the authority's is."""
        if self.preverified.get(self.index) == key:
            return  # this very signature already verified under this very key
        fixed = signer == "authority" if fixed_key is None else fixed_key
        try:
            tx.verify_signature(VerifyKey(key), self.genesis.chain_id)
        except VerificationError as exc:
            # A member's key may have been rotated by a block this node has not seen yet.
            raise self.fail(f"not signed by the {signer}", not fixed) from exc

    def blacklisted(self, member_id: bytes) -> bool:
        return self.get(schema.blacklist(member_id)) is not None

    def counter(self, key: bytes) -> int:
        raw = self.get(key)
        return 0 if raw is None else Counter.from_bytes(raw).value

    # -- transactions -------------------------------------------------------------------------

    def expected_signer(self, tx: Transaction) -> bytes | None:
        """The key that should have signed ``tx`` as the state stood before the block."""
        if isinstance(tx, AUTHORITY_SIGNED):
            return self.genesis.authority_key
        if isinstance(tx, PutRecord) and tx.device_id:
            try:
                return devices.record_edge(self, self.genesis, tx).verify_key
            except devices.DeviceRefused:
                return None  # refused when applied
        if isinstance(tx, PutRecord | Grant | Revoke):
            member_id = tx.owner
        elif isinstance(tx, AccessRequest):
            member_id = tx.requester
        elif isinstance(tx, KeyUpdate):
            member_id = tx.member_id
        else:  # pragma: no cover - decode_transaction only yields the types above
            return None
        raw = self.get(schema.member(member_id))
        return None if raw is None else self.decoded_member(raw).verify_key

    def preverify(self) -> None:
        """Check every signature at once (two threads) under the keys the state names now."""
        chain_id = self.genesis.chain_id
        indexes, items = [], []
        for index, tx in enumerate(self.block.transactions):
            key = self.expected_signer(tx)
            if key is not None:
                indexes.append(index)
                items.append((key, tx.signing_payload(chain_id), tx.signature_bytes()))
        for index, (key, _, _), ok in zip(indexes, items, preverify(items), strict=True):
            if ok:
                self.preverified[index] = key

    def run(self) -> Execution:
        self.preverify()
        for index, (tx, tx_id) in enumerate(zip(self.block.transactions, self.tx_ids, strict=True)):
            self.what, self.index = "transaction", index
            if tx_id in self.seen_tx_ids or self.store.get(schema.tx(tx_id)) is not None:
                raise self.fail("duplicate transaction")
            self.seen_tx_ids.add(tx_id)
            try:
                self.apply_tx(tx, tx_id, index)
            except content.ContentError as exc:
                raise self.fail(exc.reason, exc.state_dependent) from exc
        for index, result in enumerate(self.block.results):
            self.what, self.index = "sharing result", index
            self.apply_result(result)
        root = state_root(self.prev_state_root, self.height, self.ops)
        return Execution(self.ops, root, self.audit_length, self.audit_head)

    def apply_tx(self, tx: Transaction, tx_id: bytes, index: int) -> None:
        if isinstance(tx, RegisterMember):
            self.register_member(tx, tx_id)
        elif isinstance(tx, AttributeChange):
            self.attribute_change(tx, tx_id)
        elif isinstance(tx, PutRecord):
            self.put_record(tx, tx_id)
        elif isinstance(tx, Grant):
            self.grant(tx, tx_id)
        elif isinstance(tx, Revoke):
            self.revoke(tx, tx_id)
        elif isinstance(tx, AccessRequest):
            self.access_request(tx, index)
        elif isinstance(tx, KeyUpdate):
            self.key_update(tx, tx_id)
        elif isinstance(tx, Unblacklist):
            self.unblacklist(tx, tx_id)
        elif isinstance(tx, PublishAttributeKey):
            self.check_signature(tx, self.genesis.authority_key, "authority")
            member = self.member(tx.member_id, "member")
            authority_state.publish_attribute_key(
                self, self.genesis, member, tx, tx_id, self.height
            )
        elif isinstance(tx, RotateDomainKey):
            self.check_signature(tx, self.genesis.authority_key, "authority")
            authority_state.rotate_domain_key(self, self.genesis, tx, tx_id, self.height)
        elif isinstance(tx, RegisterDevice):
            self.check_signature(tx, self.genesis.authority_key, "authority")
            self.member(tx.owner, "owner")
            devices.register_device(self, self.genesis, tx, tx_id, self.height)
        elif isinstance(tx, RekeyDevice):
            self.check_signature(tx, self.genesis.authority_key, "authority")
            devices.rekey_device(self, self.genesis, tx, tx_id, self.height)
        else:  # pragma: no cover - decode_transaction only yields the types above
            raise self.fail(f"unsupported transaction type {type(tx).__name__}")

    def append_attributes(
        self, member: Member, attributes: tuple[str, ...], reason: str, tx_id: bytes, first: bool
    ) -> Member:
        seq = 0 if first else member.attribute_seq + 1
        link = AttributeRecord(
            member_id=member.member_id,
            seq=seq,
            attributes=attributes,
            reason=reason,
            height=self.height,
            tx_id=tx_id,
            prev_hash=ZERO_HASH if first else member.attribute_head,
        )
        self.put(schema.attribute_record(member.member_id, seq), link.to_bytes())
        return dataclasses.replace(
            member, attributes=attributes, attribute_seq=seq, attribute_head=link.hash()
        )

    def register_member(self, tx: RegisterMember, tx_id: bytes) -> None:
        self.check_signature(tx, self.genesis.authority_key, "authority")
        content.check_register_member(tx)
        if self.get(schema.member(tx.member_id)) is not None:
            raise self.fail("member already registered")
        if tx.role not in MemberRole.__members__.values():
            raise self.fail(f"unknown member role {tx.role}")
        member = Member(
            member_id=tx.member_id,
            verify_key=tx.verify_key,
            box_key=tx.box_key,
            role=tx.role,
            attributes=(),
            public_key_material=b"",
            key_version=0,
            registered_height=self.height,
            attribute_seq=0,
            attribute_head=ZERO_HASH,
        )
        member = self.append_attributes(member, tx.attributes, "registered", tx_id, first=True)
        self.put(schema.member(tx.member_id), member.to_bytes())

    def attribute_change(self, tx: AttributeChange, tx_id: bytes) -> None:
        self.check_signature(tx, self.genesis.authority_key, "authority")
        member = self.member(tx.member_id, "member")
        ordering.check_attribute_seq(member, tx)
        member = self.append_attributes(member, tx.attributes, tx.reason, tx_id, first=False)
        self.put(schema.member(tx.member_id), member.to_bytes())

    def put_record(self, tx: PutRecord, tx_id: bytes) -> None:
        owner = self.member(tx.owner, "owner")
        if tx.device_id:
            # Submitted by the device's edge, which signs with the key the genesis lists.
            edge = devices.record_edge(self, self.genesis, tx)
            self.check_signature(
                tx, edge.verify_key, f"device's edge {edge.peer_id}", fixed_key=True
            )
        else:
            self.check_signature(tx, owner.verify_key, "owner")
        if self.get(schema.record(tx.record_id)) is not None:
            raise self.fail("record id already used")
        if tx.access_limit < 1:
            raise self.fail("access limit must be at least 1")
        domain = authority_state.domain_keys(self, self.genesis)
        content.check_put_record(tx, tx_id, self.genesis.chain_id, domain)
        self.put(schema.record(tx.record_id), record_entry_bytes(tx, self.height, tx_id))
        self.put(schema.record_by_owner(tx.owner, tx.record_id), b"")
        self.put(schema.record_by_keywords(tx.keywords_hash, tx.record_id), b"")

    def owned_record(self, record_id: bytes, owner_id: bytes, tx: Transaction) -> RecordEntry:
        owner = self.member(owner_id, "owner")
        self.check_signature(tx, owner.verify_key, "owner")
        entry = self.record(record_id)
        if entry.owner != owner_id:
            raise self.fail("signer does not own the record")
        return entry

    def grant(self, tx: Grant, tx_id: bytes) -> None:
        content.check_grant_record(self.owned_record(tx.record_id, tx.owner, tx))
        grantee = self.member(tx.grantee, "grantee")
        ordering.check_pair_version(self, tx)
        # Below the network's t, fewer nodes than the network trusts with a decision would
        # hold the whole re-key (t = 1: every node's share is the re-key itself).
        if not self.genesis.threshold <= tx.threshold <= self.genesis.size:
            raise self.fail(
                f"threshold {tx.threshold} is not within "
                f"{self.genesis.threshold}..{self.genesis.size} (at least the network's)"
            )
        if tx.expires_at_ms <= self.time_ms:
            raise self.fail("grant has already expired")
        embedded = content.grant_content(tx, tx_id, self.genesis.size)
        owner_key = self.member(tx.owner, "owner").public_key_material
        content.check_grant_keys(embedded, owner_key, grantee.public_key_material)
        entry = GrantEntry(
            record_id=tx.record_id,
            grantee=tx.grantee,
            version=tx.version,
            threshold=tx.threshold,
            expires_at_ms=tx.expires_at_ms,
            sealed_rekey_shares=tx.sealed_rekey_shares,
            commitments=tx.commitments,
            height=self.height,
            tx_id=tx_id,
        )
        self.put(schema.grant(tx.record_id, tx.grantee), entry.to_bytes())

    def revoke(self, tx: Revoke, tx_id: bytes) -> None:
        self.owned_record(tx.record_id, tx.owner, tx)
        ordering.check_pair_version(self, tx)
        key = schema.grant(tx.record_id, tx.grantee)
        if self.get(key) is None:
            raise self.fail("no active grant to revoke", True)
        self.ops[key] = None
        entry = Revocation(tx.record_id, tx.grantee, tx.version, self.height, tx_id)
        self.put(schema.revocation(tx.record_id, tx.grantee), entry.to_bytes())

    def access_request(self, tx: AccessRequest, index: int) -> None:
        requester = self.member(tx.requester, "requester")
        self.check_signature(tx, requester.verify_key, "requester")
        if self.blacklisted(tx.requester):
            raise self.fail("requester is blacklisted")
        self.record(tx.record_id)
        if abs(self.time_ms - tx.timestamp_ms) > self.genesis.freshness_window_ms:
            raise self.fail("request timestamp is outside the freshness window")
        nonce_key = schema.nonce(tx.requester, tx.nonce)
        if self.get(nonce_key) is not None:
            raise self.fail("nonce already used (replay)")
        self.put(nonce_key, Location(self.height, index).to_bytes())
        self.put(schema.pending_request(self.tx_ids[index]), tx.to_bytes())
        self.requests[self.tx_ids[index]] = tx

    def key_update(self, tx: KeyUpdate, tx_id: bytes) -> None:
        member = self.member(tx.member_id, "member")
        self.check_signature(tx, member.verify_key, "member's current key")
        content.check_key_update(tx, tx_id)
        updated = dataclasses.replace(
            member,
            verify_key=tx.new_verify_key,
            box_key=tx.new_box_key,
            public_key_material=tx.public_key_material,
            key_version=member.key_version + 1,
        )
        self.put(schema.member(tx.member_id), updated.to_bytes())

    def unblacklist(self, tx: Unblacklist, tx_id: bytes) -> None:
        self.check_signature(tx, self.genesis.authority_key, "authority")
        self.member(tx.member_id, "member")
        blacklist.lift(self, tx)
        self.append_audit(
            AuditKind.UNBLACKLIST, tx_id, ZERO_HASH, tx.member_id, False, 0, 0, ZERO_HASH
        )

    # -- sharing results ----------------------------------------------------------------------

    def apply_result(self, result: SharingResult) -> None:
        pending_key = schema.pending_request(result.request_id)
        raw = self.get(pending_key)
        if raw is None:
            raise self.fail("no pending access request with this id")
        request = self.requests.get(result.request_id) or AccessRequest.from_bytes(raw)
        if (request.record_id, request.requester) != (result.record_id, result.requester):
            raise self.fail("result does not match its request's record and requester")
        try:
            check_result_shape(result)
            verify_access_votes(
                self.genesis, result.votes, request_id=result.request_id, granted=result.granted
            )
        except InvalidBlock as exc:
            raise self.fail(str(exc)) from exc
        if result.granted:
            self.grant_access(result)
        else:
            blacklist.record_denial(self, self.genesis, result.requester, self.height)
        self.ops[pending_key] = None
        approvals = sum(1 for v in result.votes if v.approve)
        self.append_audit(
            AuditKind.DECISION,
            result.request_id,
            result.record_id,
            result.requester,
            result.granted,
            approvals,
            len(result.votes) - approvals,
            result.hash(),
        )

    def append_audit(
        self, kind: AuditKind, subject_id: bytes, record_id: bytes, member_id: bytes,
        granted: bool, approvals: int, denials: int, result_hash: bytes,
    ) -> None:
        """Append one link to the sharing-audit chain, with its indexes (an unblacklisting
        names no record, so it has no by-record entry)."""
        seq = self.audit_length
        link = AuditRecord(
            seq, self.height, int(kind), subject_id, record_id, member_id, granted, approvals,
            denials, result_hash, self.audit_head,
        )
        self.put(schema.audit(seq), link.to_bytes())
        if kind is AuditKind.DECISION:
            self.put(schema.audit_by_record(record_id, seq), b"")
        self.put(schema.audit_by_requester(member_id, seq), b"")
        self.put(schema.audit_by_height(self.height, seq), b"")
        self.audit_length = seq + 1
        self.audit_head = link.hash()

    def grant_access(self, result: SharingResult) -> None:
        if self.blacklisted(result.requester):
            raise self.fail("requester is blacklisted")
        entry = self.record(result.record_id)
        count_key = schema.access_count(result.requester, result.record_id)
        count = self.counter(count_key)
        if count >= entry.access_limit:
            raise self.fail(f"access limit {entry.access_limit} reached")
        if not entry.policy:
            # Without an ABE policy, access rests on an explicit, unexpired grant.
            raw = self.get(schema.grant(result.record_id, result.requester))
            if raw is None:
                raise self.fail("no active grant for the requester")
            if GrantEntry.from_bytes(raw).expires_at_ms <= self.time_ms:
                raise self.fail("the requester's grant has expired")
        self.put(count_key, Counter(count + 1).to_bytes())


def execute(
    genesis: Genesis, store: KeyValueStore, head: Head, block: Block,
    tx_ids: Sequence[bytes] | None = None,
) -> Execution:
    """Validate ``block``'s transactions and results against the state after ``head``.

    Returns the state writes and the new state root and audit tip; raises
    :class:`InvalidTransaction`. The header must already have passed
    :func:`~ledger.header_check.check_header`.
    ``tx_ids`` may pass the block's already computed transaction ids.
    """
    ids = block.tx_ids() if tx_ids is None else tx_ids
    return _Executor(genesis, store, head, block, ids).run()
