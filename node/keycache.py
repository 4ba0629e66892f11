"""Per-grant and per-record values a node derives once and reuses for every request.

A grant's verification keys VK_1..VK_n cost (t - 1) n GT exponentiations and its re-key share
for this node a sealed-box opening and a pairing; a record's ``e(C1, g2)`` turns each share
proof's commitment pairing into one exponentiation. Grants are keyed by their transaction id
(a new grant is a new transaction), records by record id (records never change).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from crypto.errors import CryptoError, VerificationError
from crypto.groups import Group, GTElement
from crypto.sealing import BoxSecretKey
from crypto.tpre import (
    Grant,
    OwnerCiphertext,
    VerifiedReKeyShare,
    open_rekey_share,
    verification_keys,
    verify_rekey_share,
)
from ledger.records import GrantEntry

K = TypeVar("K")
V = TypeVar("V")

_CACHE_SIZE = 1024


class Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return value


@dataclass(slots=True)
class GrantKeys:
    """A parsed grant, its verification keys and (lazily) this node's verified re-key share."""

    grant: Grant
    vks: list[GTElement]
    own: VerifiedReKeyShare | None = field(default=None, repr=False)
    own_error: str = ""

    def verification_key(self, index: int) -> GTElement:
        if not 1 <= index <= len(self.vks):
            raise VerificationError(f"grant has no verification key for node {index}")
        return self.vks[index - 1]

    def own_share(self) -> VerifiedReKeyShare:
        """This node's re-key share; raises :class:`VerificationError` if it did not check out."""
        if self.own is None:
            raise VerificationError(self.own_error or "re-key share unavailable")
        return self.own


class KeyCache:
    """Caches for node ``index``, which opens its re-key shares with ``box_key``."""

    def __init__(self, group: Group, index: int, box_key: BoxSecretKey) -> None:
        self._group = group
        self._index = index
        self._box_key = box_key
        self._grants: Lru[bytes, GrantKeys] = Lru(_CACHE_SIZE)
        self._ciphertexts: Lru[bytes, OwnerCiphertext] = Lru(_CACHE_SIZE)
        self._c1_pairings: Lru[bytes, GTElement] = Lru(_CACHE_SIZE)

    def grant(self, entry: GrantEntry, node_count: int) -> GrantKeys:
        """The keys of a committed grant. Raises ``DecodeError`` for a grant that is not a
        TPRE grant over ``node_count`` nodes with the entry's threshold."""
        cached = self._grants.get(entry.tx_id)
        if cached is not None:
            return cached
        grant = Grant.from_bytes(self._group, entry.sealed_rekey_shares)
        if grant.node_count != node_count or grant.threshold != entry.threshold:
            raise VerificationError("grant does not match the network size or its threshold")
        vks = verification_keys(self._group, grant)
        try:
            share = open_rekey_share(self._group, grant, self._index, self._box_key)
            own = verify_rekey_share(self._group, share, vks[self._index - 1])
        except (CryptoError, ValueError) as exc:
            # A grant whose share for us is bad still lets us check the other nodes' shares.
            keys = GrantKeys(grant, vks, None, f"re-key share unusable: {exc}")
        else:
            keys = GrantKeys(grant, vks, own)
        return self._grants.put(entry.tx_id, keys)

    def has_grant(self, tx_id: bytes) -> bool:
        """Whether the keys of grant ``tx_id`` are derived and cached."""
        return self._grants.get(tx_id) is not None

    def ciphertext(self, record_id: bytes, encoded: bytes) -> OwnerCiphertext:
        """A record's metadata ciphertext; raises ``DecodeError`` if it is not one."""
        cached = self._ciphertexts.get(record_id)
        if cached is not None:
            return cached
        return self._ciphertexts.put(record_id, OwnerCiphertext.from_bytes(self._group, encoded))

    def c1_pairing(self, record_id: bytes, ciphertext: OwnerCiphertext) -> GTElement:
        """``e(C1, g2)`` of a record's ciphertext, computed here (never taken from a peer)."""
        cached = self._c1_pairings.get(record_id)
        if cached is not None:
            return cached
        value = self._group.pairing(ciphertext.c1, self._group.g2)
        return self._c1_pairings.put(record_id, value)
