"""Node-local storage fragments, kept in the ledger's LevelDB beside the chain.

Each consensus node holds some erasure-coded fragments of stored records (seed 000 V-E; the
fragments are produced and checked by :mod:`crypto.storage`, and are opaque bytes here). They
are local facts of one node, not replicated state: they are outside the state root and the
chain verification, and writing them never touches chain keys. They share the ledger's store
because LevelDB admits one handle per database (``Ledger.fragments``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import schema
from ledger.encoding import BLOB, HASH, TAG_STORED_FRAGMENT, U16, Encoded
from ledger.kv import KeyValueStore


@dataclass(frozen=True, slots=True)
class StoredFragment(Encoded):
    """Fragment ``index`` of record ``record_id`` as this node received it."""

    record_id: bytes
    index: int
    fragment: bytes

    TAG = TAG_STORED_FRAGMENT
    FIELDS = (("record_id", HASH), ("index", U16), ("fragment", BLOB))


class FragmentStore:
    """Put, get, list and drop fragments by record id and fragment index."""

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store

    def put(self, record_id: bytes, index: int, fragment: bytes, *, sync: bool = True) -> None:
        """Store (or replace) one fragment durably; ``ValueError`` on malformed ids."""
        entry = StoredFragment(record_id, index, fragment)
        self.store.put(schema.fragment(record_id, index), entry.to_bytes(), sync=sync)

    def get(self, record_id: bytes, index: int) -> StoredFragment | None:
        raw = self.store.get(schema.fragment(record_id, index))
        return None if raw is None else StoredFragment.from_bytes(raw)

    def of_record(self, record_id: bytes) -> list[StoredFragment]:
        """Every fragment of ``record_id`` held here, by index."""
        prefix = schema.prefixed(schema.FRAGMENT, record_id)
        return [StoredFragment.from_bytes(raw) for _, raw in self.store.iterate(prefix)]

    def drop(self, record_id: bytes) -> int:
        """Delete every fragment of ``record_id`` in one write; returns how many."""
        prefix = schema.prefixed(schema.FRAGMENT, record_id)
        keys = [key for key, _ in self.store.iterate(prefix)]
        if keys:
            self.store.write(dict.fromkeys(keys), sync=True)
        return len(keys)
