"""Polynomials over a prime field: Shamir dealing, evaluation, interpolation and Lagrange
coefficients, shared by every threshold scheme of the project."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from crypto.errors import ThresholdError


def random_polynomial(constant: int, degree: int, modulus: int) -> list[int]:
    """Coefficients ``[constant, c_1, ..., c_degree]`` with the others uniformly random."""
    if degree < 0:
        raise ValueError("degree must be non-negative")
    return [constant % modulus] + [secrets.randbelow(modulus) for _ in range(degree)]


def evaluate_polynomial(coefficients: Sequence[int], x: int, modulus: int) -> int:
    """``sum(c_k x^k) mod modulus`` by Horner's rule."""
    acc = 0
    for coefficient in reversed(coefficients):
        acc = (acc * x + coefficient) % modulus
    return acc


def check_indexes(indexes: Sequence[int], modulus: int) -> None:
    """Raise :class:`ThresholdError` for a repeated index or one that is zero modulo ``modulus``."""
    if len(set(indexes)) != len(indexes):
        raise ThresholdError("share indexes must be distinct")
    if any(i % modulus == 0 for i in indexes):
        raise ThresholdError("share index 0 would reveal the secret")


def lagrange_at_zero(indexes: Sequence[int], modulus: int) -> list[int]:
    """The coefficients ``lambda_i`` with ``f(0) = sum(lambda_i f(i))`` for ``deg f < len``.

    Raises :class:`ThresholdError` for repeated or zero indexes.
    """
    check_indexes(indexes, modulus)
    out = []
    for i in indexes:
        numerator, denominator = 1, 1
        for j in indexes:
            if j != i:
                numerator = numerator * j % modulus
                denominator = denominator * (j - i) % modulus
        out.append(numerator * pow(denominator, -1, modulus) % modulus)
    return out


def interpolate(points: Sequence[tuple[int, int]], modulus: int) -> list[int]:
    """Coefficients (lowest first) of the polynomial of degree < len(points) through ``points``.

    Raises :class:`ThresholdError` for repeated or zero x coordinates.
    """
    bases = basis_polynomials([x for x, _ in points], modulus)
    result = [0] * len(points)
    for (_, y), basis in zip(points, bases, strict=True):
        for k, value in enumerate(basis):
            result[k] = (result[k] + y * value) % modulus
    return result


def basis_polynomials(xs: Sequence[int], modulus: int) -> list[list[int]]:
    """The Lagrange basis polynomials for ``xs`` (coefficients, lowest first).

    ``interpolate`` for many value vectors over the same ``xs`` is ``sum(y_i basis_i)``;
    computing the bases once makes reconstruction of many polynomials linear in their number.
    """
    check_indexes(xs, modulus)
    bases = []
    for i, xi in enumerate(xs):
        basis = [1]
        denominator = 1
        for j, xj in enumerate(xs):
            if j == i:
                continue
            shifted = [0, *basis]
            for k, value in enumerate(basis):
                shifted[k] = (shifted[k] - xj * value) % modulus
            basis = shifted
            denominator = denominator * (xi - xj) % modulus
        inverse = pow(denominator, -1, modulus)
        bases.append([c * inverse % modulus for c in basis])
    return bases
