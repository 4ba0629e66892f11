"""H(kws), the keyword hash a record is published under and a request may name (seed 000).

The owner's client hashes a record's keywords into ``PutRecord.keywords_hash``; a request for a
policy record may give a keyword hash, which must then be the record's. The hash of no keywords
means "no keywords given". The record metadata module re-exports it (``ledger.record_metadata``),
so owner, requester and nodes hash keywords with one function.
"""

from __future__ import annotations

from crypto.hashing import digest

KEYWORDS_TAG = b"iomtshare/client/keywords/v1"


def keywords_hash(keywords: list[str] | tuple[str, ...]) -> bytes:
    """H(kws): the digest of the sorted, de-duplicated keywords (order does not matter)."""
    return digest(KEYWORDS_TAG, *(k.encode("utf-8") for k in sorted(set(keywords))))


#: What a request that names no keywords carries.
NO_KEYWORDS = keywords_hash(())
