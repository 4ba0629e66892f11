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

An inclusion path (:func:`merkle_path`, :func:`verify_path`) lists, bottom up, the sibling of
each node on the way from one leaf to the root; a level where that node is the odd one at the
end adds nothing, since the node moves up unchanged. Its length is therefore fixed by the leaf's
index and the leaf count, at most ``ceil(log2(count))`` hashes.
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
_node_hash = TwoHashDigest(MERKLE_NODE_TAG)
_node_hashes = _node_hash.pairs
_leaf_hash = OnePartDigest(MERKLE_LEAF_TAG)
HASH_SIZE = 32


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


def merkle_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion path of ``leaves[index]`` under :func:`merkle_root` of ``leaves``: the
    sibling hashes bottom up, a level where the node moves up unchanged left out.

    Raises :class:`IndexError` unless ``0 <= index < len(leaves)``."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    level = _leaf_hashes(leaves)
    path: list[bytes] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        upper = _node_hashes(level)
        if len(level) % 2:
            upper.append(level[-1])
        level = upper
        index //= 2
    return path


def path_length(index: int, count: int) -> int:
    """How many hashes the inclusion path of leaf ``index`` in a tree of ``count`` leaves holds
    (``count >= 1``, ``0 <= index < count``)."""
    length = 0
    while count > 1:
        if index ^ 1 < count:
            length += 1
        index //= 2
        count = (count + 1) // 2
    return length


def verify_path(leaf: bytes, index: int, count: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether ``path`` proves ``leaf`` to be leaf ``index`` of a ``count``-leaf tree whose
    :func:`merkle_root` is ``root``. False for an index outside the tree, a path of the wrong
    length or with an item that is not a 32-byte hash."""
    if not 0 <= index < count or len(path) != path_length(index, count):
        return False
    if any(len(item) != HASH_SIZE for item in path):
        return False
    node = _leaf_hash(leaf)
    siblings = iter(path)
    while count > 1:
        if index % 2:
            node = _node_hash.pairs([next(siblings), node])[0]
        elif index + 1 < count:
            node = _node_hash.pairs([node, next(siblings)])[0]
        index //= 2
        count = (count + 1) // 2
    return node == root
