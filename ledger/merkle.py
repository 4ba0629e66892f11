"""The binary Merkle root that block headers commit to (transaction ids, sharing results) and
that the state root is built from.

Leaves and inner nodes are hashed under different tags, so no leaf can pose as a subtree; the
empty tree has its own hash; an odd node at the end of a level moves up unchanged. Formally,
with ``digest`` from :mod:`crypto.hashing`::

    leaf(x)      = digest(MERKLE_LEAF_TAG, x)
    node(l, r)   = digest(MERKLE_NODE_TAG, l, r)
    root([])     = digest(MERKLE_EMPTY_TAG)

The code computes exactly that through :mod:`ledger.fasthash` (a block applied or verified
hashes hundreds of nodes); ``tests/ledger/test_fasthash.py`` compares it with a direct
transcription of the definition.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto.hashing import digest
from ledger.fasthash import OnePartDigest, TwoHashDigest

MERKLE_LEAF_TAG = b"iomtshare/ledger/merkle-leaf/v1"
MERKLE_NODE_TAG = b"iomtshare/ledger/merkle-node/v1"
MERKLE_EMPTY_TAG = b"iomtshare/ledger/merkle-empty/v1"

_EMPTY_ROOT = digest(MERKLE_EMPTY_TAG)
_leaf_hashes = OnePartDigest(MERKLE_LEAF_TAG).each
_node_hashes = TwoHashDigest(MERKLE_NODE_TAG).pairs


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle root of ``leaves`` (byte strings of any length, in order)."""
    if not leaves:
        return _EMPTY_ROOT
    level = _leaf_hashes(leaves)
    while len(level) > 1:
        odd = len(level) % 2
        upper = _node_hashes(level)  # 32-byte digests all the way up
        if odd:
            upper.append(level[-1])
        level = upper
    return level[0]
