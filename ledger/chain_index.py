"""The transaction index and the record ids held in memory while a ledger is verified.

Verification checks, for every transaction of every block, that the transaction index names
its position (``t`` + tx id -> Location) and, for a PutRecord, that its record exists. Looking
each transaction up in a table of all of them missed the CPU caches at every step: on a ledger
of 100,000 transactions those lookups cost more than the rest of a block's index check. So
:class:`ChainIndex` groups the index entries by the block their location names, each group one
byte string of ``location || key`` entries sorted by position, and a block's check compares its
group with the entries its transactions expect in one comparison
(:meth:`ChainIndex.block_entries_are`). The plain key -> location table is built only when that
comparison fails, to say which entry is wrong.

An entry of an unexpected size (only a damaged index has one) is kept aside, unsorted, in
``odd_entries``; it never matches a block's expected group, so it always sends the check to the
table, which holds it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from ledger import schema
from ledger.records import block_locations, location_bytes

_KEY = len(schema.TX) + 32  # a transaction index key
_VALUE = len(location_bytes(0, 0))  # a location
_ENTRY = _VALUE + _KEY
_BLOCK_PART = _VALUE - 4  # a location without its position: which block it names
_BLOCK_START = location_bytes(0, 0)[:2]  # type tag and version of a location
_HEIGHT = struct.Struct(">Q").pack
_TX = schema.TX


class ChainIndex:
    """The transaction index grouped by block, and the stored record ids.

    ``groups`` maps a location's block part (type tag, version, height) to that block's entries,
    ``location || key`` each, sorted; ``odd_entries`` holds entries of other sizes.
    """

    __slots__ = ("_table", "groups", "odd_entries", "record_ids")

    def __init__(
        self,
        groups: dict[bytes, bytes],
        odd_entries: dict[bytes, bytes],
        record_ids: frozenset[bytes],
    ) -> None:
        self.groups = groups
        self.odd_entries = odd_entries
        self.record_ids = record_ids
        self._table: dict[bytes, bytes] | None = None

    @classmethod
    def from_entries(
        cls, entries: Iterable[tuple[bytes, bytes]], record_ids: frozenset[bytes]
    ) -> ChainIndex:
        """Group ``(key, location)`` index entries (any order) by block."""
        grouped: dict[bytes, list[bytes]] = {}
        odd: dict[bytes, bytes] = {}
        get = grouped.get
        for key, value in entries:
            if len(key) != _KEY or len(value) != _VALUE:
                odd[key] = value
                continue
            block = value[:_BLOCK_PART]
            group = get(block)
            if group is None:
                grouped[block] = [value + key]
            else:
                group.append(value + key)
        # Sorting ``location || key`` sorts by position (the rest of the location is shared).
        groups = {block: b"".join(sorted(group)) for block, group in grouped.items()}
        return cls(groups, odd, record_ids)

    def block_entries_are(self, height: int, tx_ids: Sequence[bytes]) -> bool:
        """Whether the index holds exactly ``t + tx_ids[p] -> Location(height, p)`` for every
        ``p`` among its entries naming block ``height``, and nothing else names that block.

        ``True`` proves that each transaction's entry is right; ``False`` means that some entry
        is missing, wrong or extra (see :meth:`table`).
        """
        group = self.groups.get(_BLOCK_START + _HEIGHT(height), b"")
        if len(group) != len(tx_ids) * _ENTRY:
            return False
        keyed = [location + _TX for location in block_locations(height, len(tx_ids))]
        return group == b"".join(map(bytes.__add__, keyed, tx_ids))

    def table(self) -> dict[bytes, bytes]:
        """Every index entry, key -> location (built on first use)."""
        if self._table is None:
            table = {
                group[i + _VALUE : i + _ENTRY]: group[i : i + _VALUE]
                for group in self.groups.values()
                for i in range(0, len(group), _ENTRY)
            }
            table.update(self.odd_entries)
            self._table = table
        return self._table

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChainIndex):
            return NotImplemented
        return self.table() == other.table() and self.record_ids == other.record_ids

    __hash__ = None  # type: ignore[assignment]
