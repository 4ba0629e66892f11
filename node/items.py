"""Client items decoded once per node and named by their ledger transaction id.

A transaction enters a node from a client (``POST /tx``) or from a peer (a relayed submission, a
claim's request, a proposed block), often all of these for one transaction. :class:`ItemDecoder`
decodes it the first time and keeps the result by its bytes, so later arrivals of the same
bytes get the same :class:`~consensus.item.Item`, whose ``value`` is the decoded
:class:`~ledger.transactions.Transaction`. The item's id is the transaction id, the one id
consensus, ledger and API use. Access requests are ``REQUEST`` items, every other transaction a
``TX`` item.
"""

from __future__ import annotations

from collections import OrderedDict

from consensus.encoding import ItemKind
from consensus.errors import InvalidMessage
from consensus.item import Item
from crypto.errors import DecodeError
from ledger.transactions import AccessRequest, Transaction, decode_transaction, tx_id_of

#: Bounds of the decoded items kept: enough for every pending item and a few blocks of them.
MAX_KEPT_ITEMS = 4096
MAX_KEPT_BYTES = 64 * 1024 * 1024


def kind_of(tx: Transaction) -> ItemKind:
    return ItemKind.REQUEST if isinstance(tx, AccessRequest) else ItemKind.TX


def transaction_of(item: Item) -> Transaction:
    """The transaction an item of this node was decoded into; raises ``InvalidMessage`` for an
    item some other decoder made."""
    if not isinstance(item.value, Transaction):
        raise InvalidMessage("item was not decoded by this node")
    return item.value


def request_of(item: Item) -> AccessRequest:
    """The access request of a ``REQUEST`` item; raises ``InvalidMessage`` otherwise."""
    tx = transaction_of(item)
    if not isinstance(tx, AccessRequest):
        raise InvalidMessage("not an access request")
    return tx


class ItemDecoder:
    """Decodes transactions into items, keeping the most recent ones by their bytes."""

    def __init__(self, max_items: int = MAX_KEPT_ITEMS, max_bytes: int = MAX_KEPT_BYTES) -> None:
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._kept: OrderedDict[bytes, Item] = OrderedDict()
        self._kept_bytes = 0

    def decode(self, body: bytes, kind: ItemKind | None = None) -> Item:
        """The item of ``body``; raises :class:`DecodeError` when it is not a transaction, or
        not of ``kind`` when one is given."""
        item = self._kept.get(body)
        if item is None:
            tx = decode_transaction(body)
            # The encoding is canonical, so these bytes are the transaction's own encoding.
            item = Item(kind_of(tx), tx_id_of(body), body, tx)
            self._keep(item)
        else:
            self._kept.move_to_end(body)
        if kind is not None and item.kind is not kind:
            expected = "an access request" if kind is ItemKind.REQUEST else "not an access request"
            raise DecodeError(f"item of kind {kind.name} must be {expected}")
        return item

    def _keep(self, item: Item) -> None:
        self._kept[item.body] = item
        self._kept_bytes += len(item.body)
        while self._kept and (
            len(self._kept) > self._max_items or self._kept_bytes > self._max_bytes
        ):
            _, dropped = self._kept.popitem(last=False)
            self._kept_bytes -= len(dropped.body)
