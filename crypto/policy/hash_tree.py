"""The attribute-hash access tree of seed 000 (Fig. 5).

Consensus nodes decide access without learning attribute names in the clear on the wire: the
tree keeps ``H(attribute)`` at its leaves and a threshold at each inner node, and a requester
presents the hashes of its latest attributes. A node counts satisfied children bottom-up and
grants when the root's threshold is met. The hashes hide nothing from someone who can guess
attribute names (they come from a small vocabulary); the point is a fixed-size, canonical
comparison, not secrecy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.hashing import DIGEST_SIZE, digest
from crypto.policy.ast import MAX_DEPTH, MAX_LEAVES, Attribute, Gate, Policy
from crypto.policy.errors import PolicyError

ATTRIBUTE_HASH_TAG = b"iomtshare/policy/attribute-hash/v1"

HASH_TREE_TYPE_TAG = tags.POLICY_HASH_TREE
HASH_TREE_VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)
_KIND_LEAF = 0
_KIND_GATE = 1


def attribute_hash(name: str) -> bytes:
    """``H(attribute)``: the 32-byte digest a leaf stores and a requester presents."""
    return digest(ATTRIBUTE_HASH_TAG, name.encode("utf-8"))


def attribute_hashes(names: Iterable[str]) -> frozenset[bytes]:
    """The set of :func:`attribute_hash` values of ``names``."""
    return frozenset(attribute_hash(name) for name in names)


@dataclass(frozen=True, slots=True)
class HashLeaf:
    """A leaf holding the digest of one attribute."""

    attribute_digest: bytes

    def __post_init__(self) -> None:
        value = self.attribute_digest
        if not isinstance(value, bytes) or len(value) != DIGEST_SIZE:
            raise PolicyError(f"a hash-tree leaf holds exactly {DIGEST_SIZE} bytes")


@dataclass(frozen=True, slots=True)
class HashGate:
    """An inner node: met when at least ``threshold`` children are met."""

    threshold: int
    children: tuple[HashNode, ...]

    def __post_init__(self) -> None:
        if not self.children:
            raise PolicyError("a hash-tree gate needs at least one child")
        if not 1 <= self.threshold <= len(self.children):
            raise PolicyError(
                f"threshold {self.threshold} is not between 1 and {len(self.children)}"
            )


HashNode = HashLeaf | HashGate


def _node_from_policy(node: Policy) -> HashNode:
    if isinstance(node, Attribute):
        return HashLeaf(attribute_hash(node.name))
    if isinstance(node, Gate):
        return HashGate(node.threshold, tuple(_node_from_policy(c) for c in node.children))
    raise TypeError(f"not a policy node: {type(node).__name__}")


def _node_met(node: HashNode, presented: Collection[bytes]) -> bool:
    if isinstance(node, HashLeaf):
        return node.attribute_digest in presented
    met = 0
    for child in node.children:
        if _node_met(child, presented):
            met += 1
            if met >= node.threshold:
                return True
    return False


def _write_node(writer: Writer, node: HashNode) -> None:
    if isinstance(node, HashLeaf):
        writer.u8(_KIND_LEAF).fixed(node.attribute_digest, DIGEST_SIZE)
    else:
        writer.u8(_KIND_GATE).u16(node.threshold)
        writer.seq(node.children, _write_node)


class _LeafBudget:
    """Counts leaves while decoding so a hostile encoding cannot exceed :data:`MAX_LEAVES`."""

    def __init__(self) -> None:
        self.used = 0

    def take(self) -> None:
        self.used += 1
        if self.used > MAX_LEAVES:
            raise DecodeError(f"attribute-hash tree: more than {MAX_LEAVES} leaves")


def _read_node(reader: Reader, depth: int, budget: _LeafBudget) -> HashNode:
    kind = reader.u8()
    if kind == _KIND_LEAF:
        budget.take()
        return HashLeaf(reader.fixed(DIGEST_SIZE))
    if kind != _KIND_GATE:
        raise DecodeError(f"attribute-hash tree: unknown node kind {kind}")
    if depth >= MAX_DEPTH:
        raise DecodeError(f"attribute-hash tree: nesting deeper than {MAX_DEPTH}")
    threshold = reader.u16()
    children = reader.seq(lambda r: _read_node(r, depth + 1, budget), max_items=MAX_LEAVES)
    try:
        return HashGate(threshold, tuple(children))
    except PolicyError as exc:
        raise DecodeError(f"attribute-hash tree: {exc.message}") from exc


@dataclass(frozen=True, slots=True)
class AttributeHashTree:
    """Seed 000's access tree: thresholds inside, attribute digests at the leaves."""

    root: HashNode

    @classmethod
    def from_policy(cls, policy: Policy) -> AttributeHashTree:
        """Replace every attribute leaf of ``policy`` by its digest."""
        return cls(_node_from_policy(policy))

    def satisfied_by(self, presented: Collection[bytes]) -> bool:
        """Whether the presented attribute digests meet the root threshold."""
        return _node_met(self.root, presented)

    def to_bytes(self) -> bytes:
        writer = Writer(HASH_TREE_TYPE_TAG, HASH_TREE_VERSION)
        _write_node(writer, self.root)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> AttributeHashTree:
        """Decode :meth:`to_bytes`; raises :class:`DecodeError` on malformed input."""

        def body(reader: Reader) -> AttributeHashTree:
            reader.expect_header(HASH_TREE_TYPE_TAG, HASH_TREE_VERSION)
            return cls(_read_node(reader, 0, _LeafBudget()))

        return parse(data, "attribute-hash tree", body)
