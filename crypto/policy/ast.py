"""The policy tree: attribute leaves and k-of-n threshold gates.

One tree type serves the node-side attribute-hash check (seed 000, Fig. 5) and CP-ABE span
programs. ``and`` is an n-of-n gate, ``or`` a 1-of-n gate, ``k of (...)`` a k-of-n gate. Trees
are immutable, compare structurally, have a canonical text form (``str(policy)``) that parses
back to an equal tree, and a canonical versioned binary encoding.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.policy.errors import PolicyError, PolicyLimitError

#: Longest policy text the parser accepts.
MAX_POLICY_CHARS = 4096
#: Deepest nesting of gates (an attribute alone has depth 0).
MAX_DEPTH = 16
#: Most attribute leaves in one policy (repeats count each time).
MAX_LEAVES = 256
#: Longest attribute name.
MAX_ATTRIBUTE_CHARS = 128

#: Words with a meaning in the grammar; no attribute may be called any of them, in any case.
RESERVED_WORDS = frozenset({"and", "or", "of"})

ATTRIBUTE_PATTERN = re.compile(r"[A-Za-z0-9:._-]+")

POLICY_TYPE_TAG = tags.POLICY
POLICY_VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)
_KIND_ATTRIBUTE = 0
_KIND_GATE = 1


def check_attribute_name(name: str) -> None:
    """Raise :class:`PolicyError` unless ``name`` is a valid attribute name."""
    if not isinstance(name, str):
        raise PolicyError(f"attribute name must be a string, got {type(name).__name__}")
    if len(name) > MAX_ATTRIBUTE_CHARS:
        raise PolicyLimitError(
            f"attribute name of {len(name)} characters exceeds the limit of {MAX_ATTRIBUTE_CHARS}"
        )
    if not ATTRIBUTE_PATTERN.fullmatch(name):
        raise PolicyError(
            f"invalid attribute name {name!r}: allowed characters are A-Z a-z 0-9 : . _ -"
        )
    if name.lower() in RESERVED_WORDS:
        raise PolicyError(f"{name!r} is a reserved word, not an attribute name")


class Policy:
    """Base class of policy tree nodes: :class:`Attribute` and :class:`Gate`.

    ``parse`` returns one of them; code that walks a tree uses ``isinstance``.
    """

    __slots__ = ()

    @property
    def depth(self) -> int:
        """Gate nesting depth (0 for a lone attribute)."""
        raise NotImplementedError

    @property
    def leaf_count(self) -> int:
        """Number of attribute leaves, counting repeats."""
        raise NotImplementedError

    def leaves(self) -> Iterator[Attribute]:
        """The attribute leaves from left to right (repeats included)."""
        raise NotImplementedError

    def attributes(self) -> list[str]:
        """The distinct attribute names the policy mentions, sorted."""
        return sorted({leaf.name for leaf in self.leaves()})

    def satisfied_by(self, attributes: Collection[str]) -> bool:
        """Whether holding ``attributes`` satisfies the policy."""
        raise NotImplementedError

    def canonical_text(self) -> str:
        """The canonical text form; ``parse`` of it returns an equal policy."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.canonical_text()

    def to_bytes(self) -> bytes:
        """Canonical, versioned encoding."""
        writer = Writer(POLICY_TYPE_TAG, POLICY_VERSION)
        _write_node(writer, self)
        return writer.to_bytes()

    @staticmethod
    def from_bytes(data: bytes) -> Policy:
        """Decode :meth:`to_bytes`; raises :class:`DecodeError` on any malformed input."""

        def body(reader: Reader) -> Policy:
            reader.expect_header(POLICY_TYPE_TAG, POLICY_VERSION)
            return _read_node(reader, 0)

        return parse(data, "policy", body)


@dataclass(frozen=True, slots=True)
class Attribute(Policy):
    """A leaf: satisfied by holding the attribute ``name``."""

    name: str

    def __post_init__(self) -> None:
        check_attribute_name(self.name)

    @property
    def depth(self) -> int:
        return 0

    @property
    def leaf_count(self) -> int:
        return 1

    def leaves(self) -> Iterator[Attribute]:
        yield self

    def satisfied_by(self, attributes: Collection[str]) -> bool:
        return self.name in attributes

    def canonical_text(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Gate(Policy):
    """An inner node: satisfied when at least ``threshold`` of ``children`` are.

    Raises :class:`PolicyError` unless 1 <= threshold <= len(children), and
    :class:`PolicyLimitError` if the subtree is deeper than :data:`MAX_DEPTH` or has more than
    :data:`MAX_LEAVES` leaves.
    """

    threshold: int
    children: tuple[Policy, ...]
    _depth: int = field(init=False, repr=False, compare=False)
    _leaf_count: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.children, tuple):
            object.__setattr__(self, "children", tuple(self.children))
        if not self.children:
            raise PolicyError("a gate needs at least one child")
        for child in self.children:
            if not isinstance(child, Policy):
                raise PolicyError(f"gate child of type {type(child).__name__} is not a policy")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise PolicyError("gate threshold must be an integer")
        if not 1 <= self.threshold <= len(self.children):
            raise PolicyError(
                f"threshold {self.threshold} is not between 1 and the gate's "
                f"{len(self.children)} children"
            )
        depth = 1 + max(child.depth for child in self.children)
        if depth > MAX_DEPTH:
            raise PolicyLimitError(f"policy nesting depth exceeds the limit of {MAX_DEPTH}")
        leaf_count = sum(child.leaf_count for child in self.children)
        if leaf_count > MAX_LEAVES:
            raise PolicyLimitError(
                f"policy has {leaf_count} attribute leaves, more than the limit of {MAX_LEAVES}"
            )
        object.__setattr__(self, "_depth", depth)
        object.__setattr__(self, "_leaf_count", leaf_count)

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def leaf_count(self) -> int:
        return self._leaf_count

    @property
    def is_and(self) -> bool:
        """An n-of-n gate with at least two children."""
        return len(self.children) >= 2 and self.threshold == len(self.children)

    @property
    def is_or(self) -> bool:
        """A 1-of-n gate with at least two children."""
        return len(self.children) >= 2 and self.threshold == 1

    def leaves(self) -> Iterator[Attribute]:
        for child in self.children:
            yield from child.leaves()

    def satisfied_by(self, attributes: Collection[str]) -> bool:
        met = 0
        for child in self.children:
            if child.satisfied_by(attributes):
                met += 1
                if met >= self.threshold:
                    return True
        return False

    def canonical_text(self) -> str:
        if self.is_and or self.is_or:
            # Nested and/or gates keep their parentheses so the tree shape survives a re-parse
            # (an and-gate under or would not need them by precedence; they help readers).
            joiner = " and " if self.is_and else " or "
            return joiner.join(
                f"({c.canonical_text()})"
                if isinstance(c, Gate) and (c.is_and or c.is_or)
                else c.canonical_text()
                for c in self.children
            )
        inner = ", ".join(c.canonical_text() for c in self.children)
        return f"{self.threshold} of ({inner})"


def evaluate(policy: Policy, attributes: Collection[str]) -> bool:
    """Whether the attribute names in ``attributes`` satisfy ``policy``."""
    return policy.satisfied_by(attributes)


def _write_node(writer: Writer, node: Policy) -> None:
    if isinstance(node, Attribute):
        writer.u8(_KIND_ATTRIBUTE).text(node.name)
    elif isinstance(node, Gate):
        writer.u8(_KIND_GATE).u16(node.threshold)
        writer.seq(node.children, _write_node)
    else:
        raise TypeError(f"not a policy node: {type(node).__name__}")


def _read_node(reader: Reader, depth: int) -> Policy:
    kind = reader.u8()
    try:
        if kind == _KIND_ATTRIBUTE:
            return Attribute(reader.text(MAX_ATTRIBUTE_CHARS))
        if kind == _KIND_GATE:
            if depth >= MAX_DEPTH:
                raise DecodeError(f"policy: nesting deeper than {MAX_DEPTH}")
            threshold = reader.u16()
            children = reader.seq(lambda r: _read_node(r, depth + 1), max_items=MAX_LEAVES)
            return Gate(threshold, tuple(children))
    except PolicyError as exc:
        raise DecodeError(f"policy: {exc.message}") from exc
    raise DecodeError(f"policy: unknown node kind {kind}")
