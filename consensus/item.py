"""Client items as the application names and decodes them.

Consensus never reads a client's bytes. The application decodes each item where it enters the
node (from a client, or from a peer) and names it (for iomtshare: the ledger transaction id,
so consensus, ledger and API speak of an item by one id). The decoded value then travels with
the item through the pool, the votes and the block content, so the application is handed back
what it decoded instead of the bytes again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from consensus.encoding import ItemKind


@dataclass(frozen=True, slots=True)
class Item:
    """A client item the application accepted as well-formed.

    ``body`` is its canonical encoding (what travels between nodes), ``item_id`` the id the
    application gave it, ``value`` whatever the application decoded it into (opaque here).
    """

    kind: ItemKind
    item_id: bytes
    body: bytes = field(repr=False)
    value: object = field(default=None, repr=False, compare=False)


class ItemDecoder(Protocol):
    """Turns a submitted item's bytes into an :class:`Item`."""

    def decode_item(self, kind: ItemKind, body: bytes) -> Item:
        """Decode and name ``body``; raise ``InvalidMessage`` when it is malformed or not of
        ``kind``. Called for every body consensus receives from a peer (submissions and the
        requests inside claims), so an application may keep recent results by body."""
        ...
