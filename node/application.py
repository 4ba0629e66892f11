"""The consensus :class:`~consensus.app.Application` of a node: the ledger plus threshold PRE.

Items are the node's decoded transactions named by their transaction ids (:mod:`node.items`),
so consensus, ledger and API speak of one item by one id: a committed item is one in the
ledger's transaction index. Blocks are built and opened by :mod:`node.blocks`, shares made,
checked and combined by :mod:`node.shares`, and what may enter a block is :mod:`node.admission`.

Authorization (:meth:`NodeApplication.authorize`) reads only committed state, except the clock
that judges a request's freshness: a request that is badly signed, from a non-member or a
blacklisted member, about an unknown record, stale, or replaying a nonce is refused outright (no
vote, never in a block); otherwise the node decides from committed state
(:meth:`node.admission.Admission.decide`: a grant for an owner-grant record, the policy for a
policy record) and approves with its share (a re-encryption share, or a domain-key decryption
share for a policy record, :mod:`node.shares`). Denials are voted on and recorded in the audit
chain like approvals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from consensus.app import Authorization, BuiltBlock, OpenedBlock
from consensus.encoding import ItemKind
from consensus.errors import InvalidMessage
from consensus.item import Item
from consensus.messages import BlockContent, CommittedBlock
from consensus.safety import SafetyState
from crypto.dual import DomainKeyShare
from crypto.errors import CryptoError, DecodeError
from crypto.groups import Group
from crypto.sealing import BoxSecretKey
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.ledger import Ledger
from ledger.qc import CommitQC, CommitSignature
from ledger.transactions import AccessRequest, Grant
from node.admission import MAX_TX_BYTES, Admission, Decision, Problem, RequestRefused
from node.blocks import BlockMaker
from node.items import ItemDecoder, request_of, transaction_of
from node.localstore import LocalStore
from node.shares import Shares

logger = logging.getLogger("iomtshare.node.application")

_REASON_MEMORY = 100_000


class NodeApplication:
    """Implements :class:`consensus.app.Application` over a :class:`Ledger`.

    ``clock_ms()`` gives wall-clock milliseconds; it is used only for request freshness and the
    sanity bound on block times. ``domain_share`` is the node's share of the genesis domain key
    and ``home`` where it keeps its shares of later epochs (:mod:`node.domain_share`).
    """

    def __init__(
        self,
        ledger: Ledger,
        local: LocalStore,
        group: Group,
        index: int,
        box_key: BoxSecretKey,
        clock_ms: Callable[[], int],
        domain_share: DomainKeyShare | None = None,
        home: Path | None = None,
    ) -> None:
        self.ledger = ledger
        self.genesis: Genesis = ledger.genesis
        self.local = local
        self.index = index
        self.items = ItemDecoder()
        self.shares = Shares(ledger, group, index, box_key, domain_share, home)
        self.keys = self.shares.keys
        self.blocks = BlockMaker(ledger, self.shares, self.items, clock_ms)
        self.admission = Admission(ledger, index, clock_ms)
        self.denial_reasons: dict[bytes, str] = {}

    @property
    def dropped(self) -> set[bytes]:
        """Ids of the items the last build had to leave out (the node drops them)."""
        return self.blocks.dropped

    # -- items from clients -------------------------------------------------------------------

    def client_item(self, raw: bytes) -> Item:
        """A client's transaction as an item; raises :class:`DecodeError` if it is not one."""
        return self.items.decode(raw)

    def item_problem(self, item: Item) -> Problem | None:
        """Why ``item`` cannot enter a block, or None (see :mod:`node.admission`)."""
        return self.admission.transaction_problem(transaction_of(item), item.item_id)

    def transaction_problem(self, raw: bytes) -> Problem | None:
        """Why the encoded transaction ``raw`` cannot enter a block, or None."""
        try:
            item = self.client_item(raw)
        except DecodeError as exc:
            return Problem("malformed", f"not a transaction: {exc}")
        return self.item_problem(item)

    def hold_nonce(self, item: Item) -> None:
        """Reserve an accepted request's nonce for it from now on."""
        if item.kind is ItemKind.REQUEST:
            self.admission.hold_nonce(request_of(item), item.item_id)

    def stale_items(self, pending: Iterable[Item]) -> set[bytes]:
        """Ids of pending items that can no longer enter a block: those the last build left
        out, and those committed state now refuses (a conflicting transaction committed, a
        request gone stale or its requester blacklisted)."""
        stale = set(self.dropped)
        self.dropped.clear()
        for item in pending:
            if self.item_problem(item) is not None:
                stale.add(item.item_id)
        return stale

    # -- consensus application ----------------------------------------------------------------

    def decode_item(self, kind: ItemKind, body: bytes) -> Item:
        try:
            return self.items.decode(body, kind)
        except DecodeError as exc:
            raise InvalidMessage(f"not a {kind.name.lower()} item: {exc}") from exc

    def authorize(self, request: Item) -> Authorization:
        tx = request_of(request)
        ident = request.item_id
        try:
            self.admission.admit(tx, ident)
        except RequestRefused as exc:
            raise InvalidMessage(exc.message) from exc
        decision = self.admission.decide(tx)
        self.admission.hold_nonce(tx, ident)
        share = b""
        if decision.approve:
            try:
                share = self.shares.own(tx, ident)
            except (CryptoError, DecodeError, LedgerError) as exc:
                logger.warning("cannot compute share request=%s reason=%s", ident.hex()[:16], exc)
                decision = Decision(False, decision.threshold, f"cannot make a share: {exc}")
        if not decision.approve:
            if len(self.denial_reasons) >= _REASON_MEMORY:
                self.denial_reasons.clear()
            self.denial_reasons[ident] = decision.reason
        return Authorization(decision.approve, decision.threshold, share)

    def request_threshold(self, request: Item) -> int:
        return self.shares.threshold(request_of(request))

    def verify_share(self, request: Item, signer: int, share: bytes) -> bool:
        if not isinstance(request.value, AccessRequest):
            return False
        return self.shares.verified(request.value, request.item_id, signer, share) is not None

    def check_transaction(self, tx: Item) -> bool:
        if tx.kind is not ItemKind.TX or len(tx.body) > MAX_TX_BYTES:
            return False
        return not isinstance(tx.value, AccessRequest)

    def build_block(self, content: BlockContent) -> BuiltBlock:
        return self.blocks.build(content, self.check_transaction)

    def open_block(self, height: int, block: bytes) -> OpenedBlock:
        return self.blocks.open(height, block)

    def commit(self, block: CommittedBlock) -> None:
        decoded = self.blocks.committed(block)
        signatures = sorted(
            (CommitSignature(i, s) for i, s in zip(block.signers, block.signatures, strict=True)),
            key=lambda s: s.node_index,
        )
        qc = CommitQC(block.height, block.round, block.block_hash, tuple(signatures))
        self.ledger.apply(decoded, qc)
        for tx in decoded.transactions:
            if isinstance(tx, AccessRequest):
                self.admission.pending_nonces.pop((tx.requester, tx.nonce), None)
            elif isinstance(tx, Grant):
                self.shares.warm(tx)

    def committed_height(self) -> int:
        return self.ledger.height

    def committed_block(self, height: int) -> CommittedBlock | None:
        raw = self.ledger.encoded_block(height)
        qc = self.ledger.commit_qc(height)
        if raw is None or qc is None:
            return None
        return CommittedBlock(
            height,
            qc.round,
            qc.block_hash,
            raw,
            tuple(s.node_index for s in qc.signatures),
            tuple(s.signature for s in qc.signatures),
        )

    def is_committed(self, item_id: bytes) -> bool:
        return self.ledger.has_transaction(item_id)

    def save_safety_state(self, state: SafetyState) -> None:
        self.local.save_safety(state)

    def load_safety_state(self) -> SafetyState | None:
        return self.local.load_safety()
