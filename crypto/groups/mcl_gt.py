"""A fast test that an Fp12 value lies in GT, for the mcl backend.

mcl's own test (``mclBnGT_isValid``) raises x to r by plain square-and-multiply, 255 squarings
in Fp12. For BLS12-381 there is a cheaper exact test (M. Scott, "A note on group membership
tests for G1, G2 and GT on BLS pairing-friendly curves", 2021): a non-zero x is in GT if and
only if

1. x^(p^4) * x = x^(p^2), so x^Phi12(p) = 1 with Phi12(p) = p^4 - p^2 + 1 (the cyclotomic
   subgroup, of order r times a large cofactor), and
2. x^p * x^|u| = 1, so x^(p - u) = 1, where u = -0xd201000000010000 is the curve's parameter.

The order of such an x divides gcd(p - u, Phi12(p)), which is exactly r (a test checks the
numbers); and every element of GT passes both, since r divides Phi12(p) and p = u (mod r).
Either equation alone is not enough: gcd(p - u, p^12 - 1) is r times 1 - u, and the cyclotomic
subgroup is much larger than GT.

The p-th power (Frobenius) is Fp-linear on the twelve coefficients; its matrix, and those of
the p^2- and p^4-th powers, are worked out once from mcl's own arithmetic and are sparse
(at most two entries per column). So the test is one 64-bit power in C, three products and a
few dozen multiplications of Python integers: about a third of mcl's cost. Nothing is taken on
trust: :func:`load_gt_test` checks the maps against mcl's own powers and the test on values
known to lie inside or outside GT, and returns None if anything is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import pymcl

from crypto.groups.mcl_native import NativeMcl
from crypto.groups.params import FP_BYTES, GT_BYTES, P, R

#: |u| for BLS12-381 (u itself is negative).
CURVE_PARAMETER_ABS = 0xD201000000010000

_COEFFICIENTS = GT_BYTES // FP_BYTES
_Sparse = list[tuple[int, int, int]]  # (row, column, entry) of the non-zero entries


def _fr(k: int) -> pymcl.Fr:
    return pymcl.Fr.deserialize(k.to_bytes(32, "little"))


def _coefficients(x: pymcl.GT) -> list[int]:
    raw = x.serialize()  # twelve little-endian coefficients, reduced mod p
    return [int.from_bytes(raw[i : i + FP_BYTES], "little") for i in range(0, GT_BYTES, FP_BYTES)]


def _element(coefficients: list[int]) -> pymcl.GT:
    return pymcl.GT.deserialize(b"".join(c.to_bytes(FP_BYTES, "little") for c in coefficients))


def _unit(j: int) -> pymcl.GT:
    return _element([int(i == j) for i in range(_COEFFICIENTS)])


def _apply(matrix: _Sparse, coefficients: list[int]) -> list[int]:
    out = [0] * _COEFFICIENTS
    for row, column, entry in matrix:
        out[row] += entry * coefficients[column]
    return [c % P for c in out]


def _product(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    n = _COEFFICIENTS
    return [[sum(a[i][k] * b[k][j] for k in range(n)) % P for j in range(n)] for i in range(n)]


def _sparse(matrix: list[list[int]]) -> _Sparse:
    n = _COEFFICIENTS
    return [(i, j, matrix[i][j]) for i in range(n) for j in range(n) if matrix[i][j]]


class GTMembership:
    """The test of the module docstring, with the Frobenius matrices worked out once."""

    def __init__(self, native: NativeMcl) -> None:
        self._native = native
        self._u = _fr(CURVE_PARAMETER_ABS)
        # Column j of the p-th power's matrix holds the coefficients of e_j^p, e_j the j-th unit
        # vector. In the tower of crypto.groups.encoding, e_j = i^a v^b w^c with j = 6c + 2b + a,
        # and x -> x^p is multiplicative, so only i, v and w are raised to p (the others are
        # products of those images); the loop checks the layout it assumes.
        images = {j: self._power_p(_unit(j)) for j in (1, 2, 6)}
        columns = []
        for j in range(_COEFFICIENTS):
            c, rest = divmod(j, 6)
            b, a = divmod(rest, 2)
            basis, image = pymcl.GT(), pymcl.GT()
            for generator, exponent in ((1, a), (2, b), (6, c)):
                for _ in range(exponent):
                    basis, image = basis * _unit(generator), image * images[generator]
            if basis != _unit(j):
                raise RuntimeError("mcl's Fp12 basis is not the one expected")
            columns.append(_coefficients(image))
        frobenius = [[columns[j][i] for j in range(_COEFFICIENTS)] for i in range(_COEFFICIENTS)]
        square = _product(frobenius, frobenius)
        self._p1 = _sparse(frobenius)
        self._p2 = _sparse(square)
        self._p4 = _sparse(_product(square, square))

    def _power_p(self, x: pymcl.GT) -> pymcl.GT:
        # p is wider than a scalar: x^p = (x^(2^192))^hi * x^lo with p = hi * 2^192 + lo.
        hi, lo = divmod(P, 1 << 192)
        power = self._native.power_generic
        return power(power(x, _fr(1 << 192)), _fr(hi)) * power(x, _fr(lo))

    def frobenius(self, x: pymcl.GT, power: int) -> pymcl.GT:
        """x^(p^power) for power 1, 2 or 4."""
        matrix = {1: self._p1, 2: self._p2, 4: self._p4}[power]
        return _element(_apply(matrix, _coefficients(x)))

    def __call__(self, x: pymcl.GT) -> bool:
        """Whether ``x``, a non-zero Fp12 value, lies in the order-r subgroup GT."""
        coefficients = _coefficients(x)
        x_p2 = _element(_apply(self._p2, coefficients))
        x_p4 = _element(_apply(self._p4, coefficients))
        if x_p4 * x != x_p2:  # cheap, and it turns most junk away before the power
            return False
        x_p1 = _element(_apply(self._p1, coefficients))
        return bool((x_p1 * self._native.power_generic(x, self._u)).is_one())


def _self_test(test: GTMembership) -> None:
    z = pymcl.pairing(pymcl.g1, pymcl.g2)
    for power in (1, 2, 4):  # on GT, x^(p^k) is x to p^k mod r
        if test.frobenius(z, power) != z ** _fr(pow(P, power, R)):
            raise RuntimeError("the Frobenius matrix disagrees with mcl")
    minus_one = _element([P - 1] + [0] * (_COEFFICIENTS - 1))
    two = _element([2] + [0] * (_COEFFICIENTS - 1))
    # -1 and 2 have orders 2 and a divisor of p - 1, neither a multiple of r.
    inside = (z, z ** _fr(0xC0FFEE), pymcl.GT())
    outside = (minus_one, two, z * minus_one, z * two)
    if not all(map(test, inside)) or any(map(test, outside)):
        raise RuntimeError("the fast GT test gives a wrong answer on a known value")


def load_gt_test(native: NativeMcl) -> Callable[[pymcl.GT], bool] | None:
    """The checked fast test, or None if it gives a wrong answer on a known value."""
    try:
        test = GTMembership(native)
        _self_test(test)
    except (RuntimeError, ValueError, TypeError):
        return None
    return test
