"""Public parameters of the seed 000 dual scheme in the asymmetric (type-3) setting.

Seed 000 works in a symmetric group; on BLS12-381 its generator ``g0`` lives in G1 and the three
``gamma`` generators in G2. The gammas come from hash-to-curve on fixed labels, so nobody knows
their discrete logarithms relative to each other or to the G2 generator (nothing up the sleeve).
``I0 = e(g0, gamma1)`` and ``I1 = e(g0, gamma3)`` are the precomputed pairings of the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from crypto.groups import G1Element, G2Element, Group, GTElement

#: RFC 9380 domain separation tag for the scheme's G2 generators.
GENERATOR_DST = b"IOMTSHARE-V01-CS01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_DUAL-GENERATORS_"
GAMMA_LABELS = (b"seed000/gamma1", b"seed000/gamma2", b"seed000/gamma3")


@dataclass(frozen=True, eq=False)
class DualParams:
    """``g0`` in G1; ``gamma1..3`` in G2; ``I0``, ``I1`` and ``e(g0, gamma2)`` in GT."""

    group: Group
    g0: G1Element
    gamma1: G2Element
    gamma2: G2Element
    gamma3: G2Element
    i0: GTElement
    i1: GTElement
    g0_gamma2: GTElement

    @property
    def order(self) -> int:
        return self.group.order

    def random_scalar(self) -> int:
        return self.group.random_scalar()


@cache
def setup(group: Group) -> DualParams:
    """The scheme's parameters on ``group`` (deterministic; computed once per group)."""
    gamma1, gamma2, gamma3 = (group.hash_to_g2(label, GENERATOR_DST) for label in GAMMA_LABELS)
    g0 = group.g1
    return DualParams(
        group=group,
        g0=g0,
        gamma1=gamma1,
        gamma2=gamma2,
        gamma3=gamma3,
        i0=group.pairing(g0, gamma1),
        i1=group.pairing(g0, gamma3),
        g0_gamma2=group.pairing(g0, gamma2),
    )
