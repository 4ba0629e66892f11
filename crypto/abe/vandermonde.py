"""Evaluating ``f(x) = sum_{m=1..d} x^m P_m`` (points P_m) at x = 1..n, for k-of-n gates.

A child x of a k-of-n gate carries the Vandermonde segment (x, x^2, ..., x^(k-1)) over the
gate's k-1 columns, so encryption needs f(x) for every child, where the P_m are that gate's
column points already raised to the encryption randomness. Horner's rule costs d small
multiplications per x; past the first d + 1 values, forward differences give each further
value with d point additions (f has degree d, so its d-th difference is constant).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TypeVar

from crypto.groups import G1Element

P = TypeVar("P", bound=G1Element)


def horner(coefficients: Sequence[P], x: int) -> P:
    """``sum_{m=1..d} x^m coefficients[m-1]`` for a small positive int ``x``."""
    acc = coefficients[-1]
    for point in reversed(coefficients[:-1]):
        acc = acc * x + point
    return acc * x


def evaluate_range(coefficients: Sequence[P], n: int) -> list[P]:
    """``[f(1), ..., f(n)]`` with ``f(x) = sum_{m=1..d} x^m coefficients[m-1]``."""
    d = len(coefficients)
    if d == 0:
        raise ValueError("need at least one coefficient")
    if n <= d + 1:
        return [horner(coefficients, x) for x in range(1, n + 1)]
    values = [horner(coefficients, x) for x in range(1, d + 2)]
    # differences[j] = Delta^j f at the current x, starting at x = 1.
    differences = [values[0]]
    row = list(values)
    for _ in range(d):
        row = [b - a for a, b in pairwise(row)]
        differences.append(row[0])
    out = [values[0]]
    for _ in range(1, n):
        for j in range(d):
            differences[j] = differences[j] + differences[j + 1]
        out.append(differences[0])
    return out
