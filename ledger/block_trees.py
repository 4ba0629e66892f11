"""A bounded cache of committed blocks' Merkle trees, so inclusion proofs skip re-hashing.

An inclusion proof (:mod:`ledger.inclusion`) needs every leaf of its block's tree: building one
from scratch hashes every transaction of the block (a full block of 32 transactions of 128 KiB
takes about 12 ms). Committed blocks never change, so :class:`BlockTrees` keeps, per height, the
leaves and every level of the transaction tree and of the sharing-result tree, each built the
first time a proof needs it. A later proof of any item of that block takes its path from the
stored levels and hashes nothing.

Each :class:`~ledger.queries.LedgerQueries` object holds its own cache (it is not shared between
ledgers). It keeps the most recently used ``capacity`` heights; a lookup above the tip it is
given misses, so it never answers for a height that is not committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ledger.fasthash import OnePartDigest, TwoHashDigest
from ledger.merkle import MERKLE_LEAF_TAG, MERKLE_NODE_TAG

_leaf_hashes = OnePartDigest(MERKLE_LEAF_TAG).each
_node_hashes = TwoHashDigest(MERKLE_NODE_TAG).pairs

T = TypeVar("T")

#: Heights a ledger keeps trees (and, apart, headers) for unless told otherwise.
DEFAULT_CAPACITY = 256


@dataclass(frozen=True, slots=True)
class MerkleTree:
    """The leaves of a :func:`~ledger.merkle.merkle_root` tree and all its levels, bottom up."""

    leaves: tuple[bytes, ...]
    levels: tuple[tuple[bytes, ...], ...]

    @classmethod
    def of(cls, leaves: Sequence[bytes]) -> MerkleTree:
        levels: list[tuple[bytes, ...]] = []
        level = _leaf_hashes(leaves) if leaves else []
        while level:
            levels.append(tuple(level))
            if len(level) == 1:
                break
            upper = _node_hashes(level)
            if len(level) % 2:
                upper.append(level[-1])  # the odd node moves up unchanged
            level = upper
        return cls(tuple(leaves), tuple(levels))

    def path(self, index: int) -> list[bytes]:
        """What :func:`~ledger.merkle.merkle_path` gives for leaf ``index``, read from the
        stored levels. Raises :class:`IndexError` unless ``0 <= index < len(leaves)``."""
        if not 0 <= index < len(self.leaves):
            raise IndexError(f"leaf index {index} is outside a tree of {len(self.leaves)} leaves")
        path: list[bytes] = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path


class HeightCache(Generic[T]):
    """A least-recently-used map from committed heights to values loaded on first use."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"a cache of {capacity} heights holds nothing")
        self.capacity = capacity
        self._values: OrderedDict[int, T] = OrderedDict()

    def __len__(self) -> int:
        return len(self._values)

    def heights(self) -> list[int]:
        """The cached heights, least recently used first."""
        return list(self._values)

    def get(self, height: int, tip: int, load: Callable[[], T]) -> T:
        """The value of ``height``, from ``load()`` when it is not cached. A ``height`` above
        ``tip`` (the committed height) is neither answered from nor stored in the cache."""
        if not 1 <= height <= tip:
            return load()
        if height in self._values:
            self._values.move_to_end(height)
            return self._values[height]
        value = self._values[height] = load()
        if len(self._values) > self.capacity:
            self._values.popitem(last=False)
        return value


class BlockTrees(HeightCache[dict[str, MerkleTree]]):
    """Per height, the transaction and sharing-result trees of committed blocks (an LRU)."""

    def tree(
        self, height: int, kind: str, tip: int, leaves: Callable[[], Sequence[bytes]]
    ) -> MerkleTree:
        """The ``kind`` tree (``"tx"`` or ``"results"``) of block ``height``, built from
        ``leaves()`` unless it is cached (see :meth:`HeightCache.get` for ``tip``)."""
        trees = self.get(height, tip, dict)
        tree = trees.get(kind)
        if tree is None:
            tree = trees[kind] = MerkleTree.of(leaves())
        return tree


__all__ = ["DEFAULT_CAPACITY", "BlockTrees", "HeightCache", "MerkleTree"]
