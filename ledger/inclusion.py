"""Inclusion proofs: one committed transaction or sharing result, checked against a header.

A block header commits to its body through two Merkle roots (:mod:`ledger.merkle`): ``tx_root``
over the transaction ids and ``results_root`` over the sharing-result hashes. A
:class:`TxInclusion` carries one transaction (its canonical encoding), its index, the block's
leaf count and the sibling path up to ``tx_root``; a :class:`ResultInclusion` does the same for
one :class:`~ledger.block.SharingResult` (the decision on an access request, which the audit
chain records) against ``results_root``. A light node that holds the certified header of that
height (:class:`~ledger.header_chain.HeaderChain` checked its commit QC) learns from a proof that
verifies: *this item was committed in block h*. It learns nothing about later blocks (a grant
may have been revoked since): ``state_root`` chains hashes of state changes, it is not a state
tree, so current state cannot be proven this way. ``index`` and ``count`` must fit the path
(its length and the side taken at each level), but the header does not commit to the leaf
count: what a proof shows is the item's membership, not its exact position.

:class:`ProofRequest` and :class:`ProofNotFound` are the request and the typed "not here" answer
of the proof protocol (``node.edge.proofs``); a consensus node builds proofs from its ledger
with :func:`prove_transaction` and :func:`prove_decision` (and, by :class:`ProofKind`, a
device's registration or latest ReKey, or the rotation that dealt the current domain epoch).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from crypto import tags
from crypto.errors import DecodeError
from ledger import authority_state, devices, schema
from ledger.block import BlockParts, SharingResult
from ledger.block_trees import MerkleTree
from ledger.encoding import (
    HASH,
    HASHES,
    TEXT,
    U8,
    U32,
    U64,
    Encoded,
    nested,
    peek_tag,
    tagged_union,
)
from ledger.errors import LedgerError
from ledger.header_chain import CertifiedHeader
from ledger.merkle import verify_path
from ledger.queries import LedgerQueries
from ledger.records import AuditKind, AuditRecord, Counter
from ledger.transactions import AccessRequest, Transaction, decode_transaction

TAG_TX_INCLUSION = tags.LEDGER_TX_INCLUSION
TAG_RESULT_INCLUSION = tags.LEDGER_RESULT_INCLUSION
TAG_PROOF_REQUEST = tags.LEDGER_PROOF_REQUEST
TAG_PROOF_NOT_FOUND = tags.LEDGER_PROOF_NOT_FOUND


class InvalidInclusion(LedgerError):
    """A proof that does not show its item under the given header (or is for another height)."""


class ProofKind(IntEnum):
    """What a :class:`ProofRequest` asks for; stored as one byte."""

    #: A committed transaction, by transaction id.
    TRANSACTION = 1
    #: The sharing result (decision) on an access request, by request id.
    DECISION = 2
    #: The RegisterDevice that put a device on chain, by device id.
    DEVICE_REGISTRATION = 3
    #: The transaction carrying a device's ReKey of the latest epoch it has one for (its
    #: RegisterDevice or a RekeyDevice), by device id.
    DEVICE_REKEY = 4
    #: The RotateDomainKey that dealt the current domain epoch; the item id is all zeros. At
    #: the genesis epoch (no rotation committed) the answer is a :class:`ProofNotFound`.
    DOMAIN_ROTATION = 5


#: The item id of a ``DOMAIN_ROTATION`` request (there is one current rotation, no id to name).
NO_ITEM = bytes(32)


def _check(
    what: str, proof: TxInclusion | ResultInclusion, certified: CertifiedHeader, leaf: bytes,
    root: bytes,
) -> None:
    height = proof.height
    if certified.height != height:
        raise InvalidInclusion(
            f"the proof is for height {height}, the header is for {certified.height}"
        )
    if not verify_path(leaf, proof.index, proof.count, proof.path, root):
        raise InvalidInclusion(
            f"the {what} is not leaf {proof.index} of {proof.count} under the root of block"
            f" {height}"
        )


@dataclass(frozen=True, slots=True)
class TxInclusion(Encoded):
    """Transaction ``index`` of the ``count`` in block ``height``, with its path to ``tx_root``."""

    height: int
    transaction: Transaction
    index: int
    count: int
    path: tuple[bytes, ...]

    TAG = TAG_TX_INCLUSION
    FIELDS = (
        ("height", U64),
        ("transaction", tagged_union("transaction", decode_transaction, Transaction)),
        ("index", U32),
        ("count", U32),
        ("path", HASHES),
    )

    def verify(self, certified: CertifiedHeader) -> Transaction:
        """The transaction, if this proof holds under ``certified`` (a header the caller has
        verified, e.g. from its header chain); raises :class:`InvalidInclusion`."""
        _check("transaction", self, certified, self.transaction.tx_id(), certified.header.tx_root)
        return self.transaction


@dataclass(frozen=True, slots=True)
class ResultInclusion(Encoded):
    """Sharing result ``index`` of the ``count`` in block ``height``, with its path to
    ``results_root``."""

    height: int
    result: SharingResult
    index: int
    count: int
    path: tuple[bytes, ...]

    TAG = TAG_RESULT_INCLUSION
    FIELDS = (
        ("height", U64),
        ("result", nested(SharingResult)),
        ("index", U32),
        ("count", U32),
        ("path", HASHES),
    )

    def verify(self, certified: CertifiedHeader) -> SharingResult:
        """The sharing result, if this proof holds under ``certified``; raises
        :class:`InvalidInclusion`."""
        root = certified.header.results_root
        _check("sharing result", self, certified, self.result.hash(), root)
        return self.result


@dataclass(frozen=True, slots=True)
class ProofRequest(Encoded):
    """Ask for the inclusion proof of a transaction or of the decision on a request.

    ``kind`` is a :class:`ProofKind`; ``item_id`` the transaction id or the request id."""

    kind: int
    item_id: bytes

    TAG = TAG_PROOF_REQUEST
    FIELDS = (("kind", U8), ("item_id", HASH))


@dataclass(frozen=True, slots=True)
class ProofNotFound(Encoded):
    """The answer when the node has no committed item of that kind and id (``reason`` says
    which part is missing)."""

    kind: int
    item_id: bytes
    reason: str

    TAG = TAG_PROOF_NOT_FOUND
    FIELDS = (("kind", U8), ("item_id", HASH), ("reason", TEXT))


ProofAnswer = TxInclusion | ResultInclusion | ProofNotFound
_ANSWERS: dict[int, type[ProofAnswer]] = {
    TAG_TX_INCLUSION: TxInclusion,
    TAG_RESULT_INCLUSION: ResultInclusion,
    TAG_PROOF_NOT_FOUND: ProofNotFound,
}


def decode_answer(data: bytes) -> ProofAnswer:
    """Decode a proof protocol answer by its type tag; raises :class:`DecodeError`."""
    cls = _ANSWERS.get(peek_tag(data))
    if cls is None:
        raise DecodeError(f"type tag {data[0]:#04x} is not a proof answer's")
    return cls.from_bytes(data)


# -- building proofs from a full ledger --------------------------------------------------------


def _committed_parts(ledger: LedgerQueries, height: int) -> BlockParts | None:
    """The block at ``height`` split into parts (one read), or ``None`` unless it is committed:
    at most the tip, with its commit QC stored."""
    if height > ledger.committed_height() or ledger.store.get(schema.commit_qc(height)) is None:
        return None  # written but not committed as far as this store knows
    raw = ledger.encoded_block(height)
    return None if raw is None else BlockParts.from_bytes(raw)


def _tx_tree(ledger: LedgerQueries, height: int, parts: BlockParts) -> MerkleTree:
    return ledger.block_trees().tree(height, "tx", ledger.committed_height(), parts.tx_ids)


def prove_transaction(ledger: LedgerQueries, tx_id: bytes) -> TxInclusion | None:
    """The proof of committed transaction ``tx_id``, or ``None`` if ``ledger`` has none.

    Reads the block once; its Merkle tree comes from the ledger's cache
    (:mod:`ledger.block_trees`) after the first proof of that height."""
    location = ledger.transaction_location(tx_id)
    if location is None:
        return None
    height, position = location.height, location.position
    parts = _committed_parts(ledger, height)
    if parts is None:
        return None
    tree = _tx_tree(ledger, height, parts)
    transaction = decode_transaction(parts.transactions[position])
    return TxInclusion(height, transaction, position, len(tree.leaves), tuple(tree.path(position)))


def _decision_audit(ledger: LedgerQueries, request: AccessRequest, request_id: bytes,
                    height: int) -> AuditRecord | None:
    def of_request(links: list[AuditRecord]) -> AuditRecord | None:
        return next(
            (a for a in links if a.kind == AuditKind.DECISION and a.request_id == request_id),
            None,
        )

    # Nodes put a request's result in the request's own block (node.blocks); the ledger allows
    # a later one, which the record's audit index finds.
    return of_request(ledger.audit_by_heights(height, height + 1)) or of_request(
        ledger.audit_by_record(request.record_id)
    )


def prove_decision(ledger: LedgerQueries, request_id: bytes) -> ResultInclusion | None:
    """The proof of the sharing result deciding access request ``request_id``, or ``None`` if
    the request or its result is not committed in ``ledger``."""
    location = ledger.transaction_location(request_id)
    if location is None:
        return None
    parts = _committed_parts(ledger, location.height)
    if parts is None:
        return None
    request = decode_transaction(parts.transactions[location.position])
    if not isinstance(request, AccessRequest):
        return None
    audit = _decision_audit(ledger, request, request_id, location.height)
    if audit is None:
        return None
    if audit.height != location.height:
        parts = _committed_parts(ledger, audit.height)
        if parts is None:
            return None
    tree = ledger.block_trees().tree(
        audit.height, "results", ledger.committed_height(), parts.result_hashes
    )
    if audit.result_hash not in tree.leaves:
        return None
    index = tree.leaves.index(audit.result_hash)
    result = SharingResult.from_bytes(parts.results[index])
    return ResultInclusion(audit.height, result, index, len(tree.leaves), tuple(tree.path(index)))


def device_tx_id(ledger: LedgerQueries, kind: ProofKind, device_id: bytes) -> bytes | None:
    """The id of the RegisterDevice of ``device_id`` (kind ``DEVICE_REGISTRATION``) or of the
    transaction that gave it its ReKey of the highest epoch (``DEVICE_REKEY``), or ``None``
    for a device that is not registered.

    A proof of either shows that transaction was committed; that no later RekeyDevice exists is
    the node's claim (absence is not provable), and nodes refuse a record under a stale epoch.
    """
    entry = devices.device(ledger.store, device_id)
    if entry is None:
        return None
    if kind is ProofKind.DEVICE_REGISTRATION:
        return entry.tx_id
    prefix = schema.device_rekey(device_id, 0)[:-4]
    for _, raw in ledger.store.iterate(prefix, reverse=True):
        return devices.DeviceRekey.from_bytes(raw).tx_id
    return entry.tx_id


def rotation_tx_id(ledger: LedgerQueries) -> bytes | None:
    """The id of the RotateDomainKey that dealt the current domain epoch, or ``None`` while the
    genesis epoch is current. As for ``DEVICE_REKEY``, that it is the latest is the node's
    claim; nodes refuse a record under any other epoch, which is how an edge finds out."""
    raw = ledger.store.get(schema.CURRENT_DOMAIN_EPOCH)
    if raw is None:
        return None
    dealt = authority_state.domain_epoch(ledger.store, Counter.from_bytes(raw).value)
    return None if dealt is None else dealt.tx_id


def prove(ledger: LedgerQueries, request: ProofRequest) -> ProofAnswer:
    """The answer to ``request`` from ``ledger``: a proof, or :class:`ProofNotFound`. Raises
    :class:`ValueError` for an unknown kind."""
    kind = ProofKind(request.kind)
    proof: TxInclusion | ResultInclusion | None
    if kind is ProofKind.TRANSACTION:
        proof = prove_transaction(ledger, request.item_id)
        missing = "no committed transaction with this id"
    elif kind in (ProofKind.DEVICE_REGISTRATION, ProofKind.DEVICE_REKEY):
        tx_id = device_tx_id(ledger, kind, request.item_id)
        proof = None if tx_id is None else prove_transaction(ledger, tx_id)
        missing = "no registered device with this id"
    elif kind is ProofKind.DOMAIN_ROTATION:
        tx_id = rotation_tx_id(ledger) if request.item_id == NO_ITEM else None
        proof = None if tx_id is None else prove_transaction(ledger, tx_id)
        missing = ("no domain-key rotation committed: the genesis epoch is current"
                   if request.item_id == NO_ITEM else "the rotation is asked for by a zero id")
    else:
        proof = prove_decision(ledger, request.item_id)
        missing = "no committed decision on an access request with this id"
    if proof is None:
        return ProofNotFound(request.kind, request.item_id, missing)
    return proof


__all__ = [
    "NO_ITEM",
    "InvalidInclusion",
    "ProofAnswer",
    "ProofKind",
    "ProofNotFound",
    "ProofRequest",
    "ResultInclusion",
    "TxInclusion",
    "decode_answer",
    "device_tx_id",
    "prove",
    "prove_decision",
    "prove_transaction",
    "rotation_tx_id",
]
