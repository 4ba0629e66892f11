"""The pairing-group interface every backend implements.

Scalars are plain Python ints modulo ``Group.order``. Group elements are immutable objects of a
backend; mixing elements of two backends is a programming error and raises ``TypeError``.
Encodings are identical across backends: G1 and G2 in ZCash compressed form (48 and 96 bytes),
GT as twelve 48-byte big-endian base-field coefficients in the order of
:mod:`crypto.groups.encoding`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Self


class PointElement(ABC):
    """A point of a prime-order elliptic-curve group, written additively."""

    __slots__ = ()

    @abstractmethod
    def __add__(self, other: Self) -> Self: ...

    @abstractmethod
    def __sub__(self, other: Self) -> Self: ...

    @abstractmethod
    def __neg__(self) -> Self: ...

    @abstractmethod
    def __mul__(self, scalar: int) -> Self: ...

    def __rmul__(self, scalar: int) -> Self:
        return self * scalar

    @abstractmethod
    def __eq__(self, other: object) -> bool: ...

    @abstractmethod
    def __hash__(self) -> int: ...

    @abstractmethod
    def __bytes__(self) -> bytes: ...

    @abstractmethod
    def is_identity(self) -> bool: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({bytes(self).hex()[:16]}…)"


class G1Element(PointElement):
    """A point of the order-r subgroup of E(Fp)."""

    __slots__ = ()


class G2Element(PointElement):
    """A point of the order-r subgroup of the sextic twist E'(Fp2)."""

    __slots__ = ()


class GTElement(ABC):
    """An element of the order-r target group, written multiplicatively."""

    __slots__ = ()

    @abstractmethod
    def __mul__(self, other: Self) -> Self: ...

    @abstractmethod
    def __truediv__(self, other: Self) -> Self: ...

    @abstractmethod
    def __pow__(self, exponent: int) -> Self: ...

    @abstractmethod
    def inverse(self) -> Self: ...

    @abstractmethod
    def __eq__(self, other: object) -> bool: ...

    @abstractmethod
    def __hash__(self) -> int: ...

    @abstractmethod
    def __bytes__(self) -> bytes: ...

    @abstractmethod
    def is_one(self) -> bool: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({bytes(self).hex()[:16]}…)"


class PreparedG2(ABC):
    """A G2 point q made ready to be paired many times: ``pairing(p)`` is e(p, q).

    Backends that can, precompute q's Miller-loop line coefficients once; the others simply
    keep q. The result is the same either way. q may be secret (a re-key share), so neither
    q nor anything derived from it appears in ``repr``.
    """

    __slots__ = ()

    @property
    @abstractmethod
    def point(self) -> G2Element:
        """The point q itself."""

    @abstractmethod
    def pairing(self, p: G1Element) -> GTElement:
        """e(p, q); raises ``TypeError`` for a point of another backend."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<hidden>)"


class _PlainPreparedG2(PreparedG2):
    """No precomputation: each pairing is a full one (backends without a faster path)."""

    __slots__ = ("_group", "_q")

    def __init__(self, group: Group, q: G2Element) -> None:
        self._group = group
        self._q = q

    @property
    def point(self) -> G2Element:
        return self._q

    def pairing(self, p: G1Element) -> GTElement:
        return self._group.pairing(p, self._q)


class Group(ABC):
    """BLS12-381 with a type-3 pairing e: G1 x G2 -> GT, as provided by one backend."""

    #: Backend name, e.g. ``"mcl"`` or ``"py_ecc"``.
    name: str
    #: The prime order r of G1, G2 and GT.
    order: int

    @property
    @abstractmethod
    def g1(self) -> G1Element:
        """The standard generator of G1."""

    @property
    @abstractmethod
    def g2(self) -> G2Element:
        """The standard generator of G2."""

    @property
    @abstractmethod
    def gt_one(self) -> GTElement: ...

    @property
    def z(self) -> GTElement:
        """e(g1, g2), cached by backends that can afford it."""
        return self.pairing(self.g1, self.g2)

    def z_pow(self, exponent: int) -> GTElement:
        """e(g1, g2)^k; backends may use a precomputed table for this fixed base."""
        return self.z**exponent

    def warm_up(self) -> None:  # noqa: B027 - optional hook; nothing to build by default
        """Build now whatever the backend would build on first use (tables for fixed bases),
        so that a long-running process does not charge it to its first request."""

    def g2_mul_generator(self, scalar: int) -> G2Element:
        """g2^k; backends may use a precomputed table for this fixed base."""
        return self.g2 * scalar

    @abstractmethod
    def g1_identity(self) -> G1Element: ...

    @abstractmethod
    def g2_identity(self) -> G2Element: ...

    @abstractmethod
    def random_scalar(self) -> int:
        """A uniformly random scalar in [1, r)."""

    @abstractmethod
    def pairing(self, p: G1Element, q: G2Element) -> GTElement: ...

    def gt_pow_unchecked(self, element: GTElement, exponent: int) -> GTElement:
        """element^exponent (0 <= exponent < r) for a value that may lie outside GT.

        ``element ** k`` may use shortcuts that are only valid inside GT; this is a plain
        square-and-multiply in Fp12, right for anything ``gt_from_bytes(...,
        check_subgroup=False)`` returns.
        """
        if not 0 <= exponent < self.order:
            raise ValueError("exponent out of range")
        acc = self.gt_one
        for bit in bin(exponent)[2:]:
            acc = acc * acc
            if bit == "1":
                acc = acc * element
        return acc

    def prepare_g2(self, q: G2Element) -> PreparedG2:
        """q ready for many pairings e(., q); worth it from about two pairings on mcl."""
        return _PlainPreparedG2(self, q)

    @abstractmethod
    def pairing_product(self, pairs: Sequence[tuple[G1Element, G2Element]]) -> GTElement:
        """The product of e(p_i, q_i), sharing work (one final exponentiation) where possible."""

    @abstractmethod
    def hash_to_g1(self, message: bytes, dst: bytes) -> G1Element:
        """RFC 9380 ``BLS12381G1_XMD:SHA-256_SSWU_RO_`` under the domain separation tag ``dst``."""

    @abstractmethod
    def hash_to_g2(self, message: bytes, dst: bytes) -> G2Element:
        """RFC 9380 ``BLS12381G2_XMD:SHA-256_SSWU_RO_`` under the domain separation tag ``dst``."""

    @abstractmethod
    def g1_from_bytes(self, data: bytes) -> G1Element:
        """Decode 48 bytes; raise :class:`~crypto.errors.DecodeError` unless canonical and in G1."""

    @abstractmethod
    def g2_from_bytes(self, data: bytes) -> G2Element:
        """Decode 96 bytes; raise :class:`~crypto.errors.DecodeError` unless canonical and in G2."""

    @abstractmethod
    def gt_from_bytes(self, data: bytes, *, check_subgroup: bool = True) -> GTElement:
        """Decode 576 bytes; raise :class:`~crypto.errors.DecodeError` unless canonical, in GT.

        ``check_subgroup=False`` skips only the order-r test, keeping every other check. The
        project decodes nothing from peers this way: a value outside GT can satisfy an equation
        for some exponents and not others (share proofs once took their commitments unchecked,
        and a prover could then pass the single check while failing the random batch). It is
        for tests and tools that build such values on purpose.
        """

    def __repr__(self) -> str:
        return f"Group({self.name!r})"
