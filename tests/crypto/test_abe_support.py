"""Helpers shared by the CP-ABE tests (no tests here): a pairing-counting group, random policies."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from crypto.groups import G1Element, G2Element, Group, GTElement
from crypto.policy import Attribute, Gate, Policy

UNIVERSE = tuple(f"att:{c}" for c in "abcdef")


class CountingGroup(Group):
    """Delegates to a real group and counts the pairings it is asked for."""

    def __init__(self, inner: Group) -> None:
        self.inner = inner
        self.name = inner.name
        self.order = inner.order
        self.pairings = 0

    @property
    def g1(self) -> G1Element:
        return self.inner.g1

    @property
    def g2(self) -> G2Element:
        return self.inner.g2

    @property
    def gt_one(self) -> GTElement:
        return self.inner.gt_one

    @property
    def z(self) -> GTElement:
        return self.inner.z

    def g1_identity(self) -> G1Element:
        return self.inner.g1_identity()

    def g2_identity(self) -> G2Element:
        return self.inner.g2_identity()

    def random_scalar(self) -> int:
        return self.inner.random_scalar()

    def pairing(self, p: G1Element, q: G2Element) -> GTElement:
        self.pairings += 1
        return self.inner.pairing(p, q)

    def pairing_product(self, pairs: Sequence[tuple[G1Element, G2Element]]) -> GTElement:
        self.pairings += len(pairs)
        return self.inner.pairing_product(pairs)

    def hash_to_g1(self, message: bytes, dst: bytes) -> G1Element:
        return self.inner.hash_to_g1(message, dst)

    def hash_to_g2(self, message: bytes, dst: bytes) -> G2Element:
        return self.inner.hash_to_g2(message, dst)

    def g1_from_bytes(self, data: bytes) -> G1Element:
        return self.inner.g1_from_bytes(data)

    def g2_from_bytes(self, data: bytes) -> G2Element:
        return self.inner.g2_from_bytes(data)

    def gt_from_bytes(self, data: bytes, *, check_subgroup: bool = True) -> GTElement:
        return self.inner.gt_from_bytes(data, check_subgroup=check_subgroup)


def policies(max_depth: int = 3, universe: Sequence[str] = UNIVERSE) -> st.SearchStrategy[Policy]:
    """Random trees of and / or / k-of-n gates over ``universe`` (attributes may repeat)."""
    leaves = st.sampled_from(universe).map(Attribute)

    def gates(children: st.SearchStrategy[Policy]) -> st.SearchStrategy[Policy]:
        return st.lists(children, min_size=1, max_size=4).flatmap(
            lambda kids: st.integers(1, len(kids)).map(lambda k: Gate(k, tuple(kids)))
        )

    return st.recursive(leaves, gates, max_leaves=10)


attribute_sets = st.sets(st.sampled_from(UNIVERSE))
