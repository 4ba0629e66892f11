"""The hashed group elements of FAME: attribute terms H(y, l, t) and column terms H(0, j, l, t).

Charm's ``ac17`` and rabe build both from one string, ``attr + str(l) + str(t)`` and
``"0" + str(j) + str(l) + str(t)``, so the attribute ``"01"`` hashes to the column-1 term
(``"01" + "1" + "1" == "0" + "1" + "1" + "1"``) and a key for it decrypts every ciphertext; and
column 11 meets attribute ``"011"``. Here the two kinds use different RFC 9380 domain
separation tags and every input is a length-prefixed field, so no name, column index or
(l, t) pair can produce another's input.

Column terms do not depend on any attribute or policy; they are fixed public points of the
scheme, so a public key keeps a :class:`ColumnTerms` table that computes each once.
Attribute terms are hashed afresh unless the caller passes an :class:`AttributeTermCache`.
"""

from __future__ import annotations

from typing import Final

from crypto.codec import join_chunks
from crypto.groups import G1Element, Group

ATTRIBUTE_DST: Final = b"IOMTSHARE-V01-FAME-ATTR_BLS12381G1_XMD:SHA-256_SSWU_RO_"
COLUMN_DST: Final = b"IOMTSHARE-V01-FAME-COLUMN_BLS12381G1_XMD:SHA-256_SSWU_RO_"

#: (l, t) pairs in the order keys and ciphertexts use them: l in 1..3, t in 1..2.
LT_PAIRS: Final = tuple((ell, t) for ell in (1, 2, 3) for t in (1, 2))


def attribute_input(name: str, ell: int, t: int) -> bytes:
    """The hash-to-curve message of H(name, l, t)."""
    return join_chunks((name.encode("utf-8"), bytes([ell]), bytes([t])))


def column_input(j: int, ell: int, t: int) -> bytes:
    """The hash-to-curve message of the column term H(0, j, l, t)."""
    return join_chunks((j.to_bytes(4, "big"), bytes([ell]), bytes([t])))


AttributeTerms = dict[tuple[int, int], G1Element]


def hash_attribute(group: Group, name: str) -> AttributeTerms:
    """The six points H(name, l, t), keyed by (l, t)."""
    return {
        (ell, t): group.hash_to_g1(attribute_input(name, ell, t), ATTRIBUTE_DST)
        for ell, t in LT_PAIRS
    }


class AttributeTermCache:
    """Remembers attribute terms of one group (attribute names are public, so this is safe)."""

    __slots__ = ("_group", "_terms")

    def __init__(self, group: Group) -> None:
        self._group = group
        self._terms: dict[str, AttributeTerms] = {}

    def get(self, name: str) -> AttributeTerms:
        terms = self._terms.get(name)
        if terms is None:
            terms = self._terms[name] = hash_attribute(self._group, name)
        return terms

    def __len__(self) -> int:
        return len(self._terms)


class ColumnTerms:
    """Column terms of one group, computed on first use and kept (they are public constants)."""

    __slots__ = ("_group", "_terms")

    def __init__(self, group: Group) -> None:
        self._group = group
        self._terms: dict[int, AttributeTerms] = {}

    def get(self, j: int) -> AttributeTerms:
        terms = self._terms.get(j)
        if terms is None:
            terms = self._terms[j] = {
                (ell, t): self._group.hash_to_g1(column_input(j, ell, t), COLUMN_DST)
                for ell, t in LT_PAIRS
            }
        return terms
