"""How much disk a ledger database takes, and which kinds of keys take it.

For measuring (``iomtshare bench disk``) and for operators: everything here reads a closed
database directory, except :func:`compact`, which rewrites it (LevelDB's own full compaction,
which keeps every live key and value).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import plyvel

from ledger import schema
from ledger.errors import StoreError

NAMESPACE_NAMES: dict[bytes, str] = {
    schema.BLOCK: "blocks",
    schema.COMMIT_QC: "commit QCs",
    schema.BLOCK_BY_HASH: "block-by-hash index",
    schema.TX: "transaction index",
    schema.MEMBER: "members",
    schema.RECORD: "records",
    schema.RECORDS_BY_OWNER: "records-by-owner index",
    schema.RECORDS_BY_KEYWORDS: "records-by-keywords index",
    schema.GRANT: "grants",
    schema.REVOCATION: "revocations",
    schema.PENDING_REQUEST: "pending requests",
    schema.NONCE: "request nonces",
    schema.ACCESS_COUNT: "access counters",
    schema.DENIALS: "denial counters",
    schema.BLACKLIST: "blacklist",
    schema.ATTRIBUTE_CHAIN: "attribute chain",
    schema.AUDIT: "audit chain",
    schema.AUDIT_BY_RECORD: "audit-by-record index",
    schema.AUDIT_BY_REQUESTER: "audit-by-requester index",
    schema.AUDIT_BY_HEIGHT: "audit-by-height index",
    schema.FRAGMENT: "stored fragments",
}


def namespace_name(key: bytes) -> str:
    """What kind of entry ``key`` is, in words (see :mod:`ledger.schema`)."""
    if key.startswith(b"!"):
        return "head and genesis"
    return NAMESPACE_NAMES.get(key[:1], f"namespace {key[:1]!r}")


def directory_bytes(path: Path) -> int:
    """Bytes of the files of the database at ``path`` (a LevelDB directory is flat)."""
    try:
        return sum(entry.stat().st_size for entry in path.iterdir() if entry.is_file())
    except OSError as exc:
        raise StoreError(f"cannot measure {path}: {exc}") from exc


def _open(path: Path) -> plyvel.DB:
    # LevelDB creates the directory even when told not to create a database: look first.
    if not (path / "CURRENT").is_file():
        raise StoreError(f"cannot open LevelDB at {path}: no database there")
    try:
        return plyvel.DB(str(path), create_if_missing=False)
    except (plyvel.Error, OSError) as exc:
        raise StoreError(f"cannot open LevelDB at {path}: {exc}") from exc


def compact(path: Path) -> int:
    """Compact the closed database at ``path`` fully and return its size in bytes.

    Compaction drops overwritten values and deletions and moves the write-ahead log into
    tables, so the size is what the live data takes, not how recently it was written. Raises
    :class:`StoreError` if the database cannot be opened (missing, or open in a node).
    """
    db = _open(path)
    try:
        db.compact_range()
    finally:
        db.close()
    return directory_bytes(path)


def namespace_bytes(path: Path) -> Counter[str]:
    """Key + value bytes per kind of entry in the closed database at ``path``: the logical
    sizes, before LevelDB's block compression. Raises :class:`StoreError`."""
    sizes: Counter[str] = Counter()
    db = _open(path)
    try:
        for key, value in db.iterator(fill_cache=False):
            sizes[namespace_name(key)] += len(key) + len(value)
    finally:
        db.close()
    return sizes
