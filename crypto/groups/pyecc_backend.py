"""The reference backend: py_ecc, pure Python.

It is slow (a pairing takes a few hundred milliseconds) and exists to check the fast backend:
both must agree byte for byte. py_ecc's pairing e' relates to ours by e = e'^(-3), a fact checked
by the differential tests, so every pairing result is mapped with one cube and one conjugation
(the inverse of a unitary element).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, Self

from py_ecc import optimized_bls12_381 as _bls_module
from py_ecc.optimized_bls12_381.optimized_pairing import miller_loop

from crypto.errors import DecodeError
from crypto.groups import encoding
from crypto.groups.api import G1Element, G2Element, Group, GTElement
from crypto.groups.hash_to_curve import hash_to_g1_affine, hash_to_g2_affine
from crypto.groups.params import B, R

# py_ecc's re-exports are untyped for mypy's purposes; the oracle is checked by tests instead.
bls: Any = _bls_module
_Point = tuple[Any, Any, Any]
_B2 = bls.FQ2([B, B])


def _conjugate(f: Any) -> Any:
    """Frobenius^6: negates the odd powers of w; the inverse of a unitary element."""
    return bls.FQ12([c if i % 2 == 0 else -c for i, c in enumerate(f.coeffs)])


class _PyEccPoint:
    """Group operations shared by the G1 and G2 wrappers (the subclass fixes the type)."""

    __slots__ = ("_p",)

    def __init__(self, point: _Point) -> None:
        self._p = point

    def __add__(self, other: Self) -> Self:
        return type(self)(bls.add(self._p, other._p))

    def __sub__(self, other: Self) -> Self:
        return type(self)(bls.add(self._p, bls.neg(other._p)))

    def __neg__(self) -> Self:
        return type(self)(bls.neg(self._p))

    def __mul__(self, scalar: int) -> Self:
        return type(self)(bls.multiply(self._p, scalar % R))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and bool(bls.eq(self._p, other._p))

    def __hash__(self) -> int:
        return hash(bytes(self))  # type: ignore[call-overload]

    def is_identity(self) -> bool:
        return bool(bls.is_inf(self._p))


class PyEccG1(_PyEccPoint, G1Element):
    __slots__ = ()

    def affine(self) -> encoding.AffineG1 | None:
        if bls.is_inf(self._p):
            return None
        x, y = bls.normalize(self._p)
        return int(x), int(y)

    def __bytes__(self) -> bytes:
        return encoding.encode_g1(self.affine())


class PyEccG2(_PyEccPoint, G2Element):
    __slots__ = ()

    def __bytes__(self) -> bytes:
        if bls.is_inf(self._p):
            return encoding.encode_g2(None)
        x, y = bls.normalize(self._p)
        x0, x1 = (int(c) for c in x.coeffs)
        y0, y1 = (int(c) for c in y.coeffs)
        return encoding.encode_g2((x0, x1, y0, y1))


class PyEccGT(GTElement):
    __slots__ = ("_e",)

    def __init__(self, element: Any) -> None:
        self._e = element

    def __mul__(self, other: Self) -> Self:
        return type(self)(self._e * other._e)

    def __truediv__(self, other: Self) -> Self:
        return type(self)(self._e * _conjugate(other._e))

    def __pow__(self, exponent: int) -> Self:
        return type(self)(self._e ** (exponent % R))

    def inverse(self) -> Self:
        return type(self)(_conjugate(self._e))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PyEccGT) and bool(self._e == other._e)

    def __hash__(self) -> int:
        return hash(bytes(self))

    def __bytes__(self) -> bytes:
        flat = [int(c) for c in self._e.coeffs]
        return encoding.encode_gt(encoding.flat_to_tower(flat))

    def is_one(self) -> bool:
        return bool(self._e == bls.FQ12.one())


class PyEccGroup(Group):
    """BLS12-381 on py_ecc's optimized pure-Python arithmetic."""

    name = "py_ecc"
    order = R

    def __init__(self) -> None:
        self._g1 = PyEccG1(bls.G1)
        self._g2 = PyEccG2(bls.G2)
        self._one = PyEccGT(bls.FQ12.one())
        self._z: PyEccGT | None = None

    @property
    def g1(self) -> PyEccG1:
        return self._g1

    @property
    def g2(self) -> PyEccG2:
        return self._g2

    @property
    def gt_one(self) -> PyEccGT:
        return self._one

    @property
    def z(self) -> PyEccGT:
        if self._z is None:
            self._z = self.pairing(self._g1, self._g2)
        return self._z

    def g1_identity(self) -> PyEccG1:
        return PyEccG1(bls.Z1)

    def g2_identity(self) -> PyEccG2:
        return PyEccG2(bls.Z2)

    def random_scalar(self) -> int:
        return secrets.randbelow(R - 1) + 1

    def pairing(self, p: G1Element, q: G2Element) -> PyEccGT:
        return self.pairing_product([(p, q)])

    def pairing_product(self, pairs: Sequence[tuple[G1Element, G2Element]]) -> PyEccGT:
        f = bls.FQ12.one()
        for p, q in pairs:
            if not isinstance(p, PyEccG1) or not isinstance(q, PyEccG2):
                raise TypeError("pairing needs py_ecc points")
            if p.is_identity() or q.is_identity():
                continue
            f = f * miller_loop(q._p, p._p, final_exponentiate=False)
        e = bls.final_exponentiate(f)
        return PyEccGT(_conjugate(e * e * e))

    def _g1_from_affine(self, point: encoding.AffineG1 | None) -> PyEccG1:
        if point is None:
            return self.g1_identity()
        p = (bls.FQ(point[0]), bls.FQ(point[1]), bls.FQ.one())
        if not bls.is_inf(bls.multiply(p, R)):
            raise DecodeError("G1 point is not in the prime-order subgroup")
        return PyEccG1(p)

    def _g2_from_affine(self, point: encoding.AffineG2 | None) -> PyEccG2:
        if point is None:
            return self.g2_identity()
        x0, x1, y0, y1 = point
        p = (bls.FQ2([x0, x1]), bls.FQ2([y0, y1]), bls.FQ2.one())
        if not bls.is_on_curve(p, _B2):
            raise DecodeError("G2 point is not on the twist")
        if not bls.is_inf(bls.multiply(p, R)):
            raise DecodeError("G2 point is not in the prime-order subgroup")
        return PyEccG2(p)

    def hash_to_g1(self, message: bytes, dst: bytes) -> PyEccG1:
        point = hash_to_g1_affine(message, dst)
        if point is None:
            return self.g1_identity()
        return PyEccG1((bls.FQ(point[0]), bls.FQ(point[1]), bls.FQ.one()))

    def hash_to_g2(self, message: bytes, dst: bytes) -> PyEccG2:
        return self._g2_from_affine(hash_to_g2_affine(message, dst))

    def g1_from_bytes(self, data: bytes) -> PyEccG1:
        return self._g1_from_affine(encoding.decode_g1(data))

    def g2_from_bytes(self, data: bytes) -> PyEccG2:
        return self._g2_from_affine(encoding.decode_g2(data))

    def gt_from_bytes(self, data: bytes, *, check_subgroup: bool = True) -> PyEccGT:
        flat = encoding.tower_to_flat(encoding.decode_gt(data))
        element = bls.FQ12(flat)
        if element == bls.FQ12.zero():
            raise DecodeError("GT element is zero")
        if check_subgroup and element**R != bls.FQ12.one():
            raise DecodeError("GT element is not in the order-r subgroup")
        return PyEccGT(element)
