"""Monotone span programs built from the shared policy tree (crypto.policy).

A span program is a matrix M with one row per policy leaf (row i labelled with attribute
rho(i)); a set of attributes is authorised exactly when the rows it labels span the target
vector e_0 = (1, 0, ..., 0). Gates become rows as follows, each gate handing its own vector v
to its children:

* ``or`` (1-of-n): every child gets v; no new column.
* ``and`` (n-of-n): n-1 new columns c_1..c_{n-1}; the children get v + e_c1, -e_c1 + e_c2, ...,
  -e_c(n-1), which sum to v (Lewko-Waters' split, chained). Entries stay in {0, 1, -1}, so
  encryption needs point additions only.
* ``k of (...)`` (1 < k < n): k-1 new columns; child x (1-based) gets
  v + x e_c1 + x^2 e_c2 + ... + x^(k-1) e_c(k-1): Vandermonde rows, the Shamir secret-sharing
  matrix. Lagrange coefficients at 0 of any k children recombine v; fewer cannot.

Instead of Gaussian elimination, :func:`recombination` walks the same tree to find the
coefficients gamma with sum_i gamma_i M_i = e_0.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from crypto.abe.errors import UnsatisfiedPolicyError
from crypto.policy import Attribute, Gate, Policy
from crypto.polynomial import lagrange_at_zero

#: ``(column, base, count)`` stands for sum_{m=1..count} base^m e_(column+m-1): a single entry
#: +-1 is ``(column, +-1, 1)``; a child x of a k-of-n gate adds ``(first, x, k-1)``.
Term = tuple[int, int, int]
Row = tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class SpanProgram:
    """Rows in policy leaf order; ``labels[i]`` is rho(i); ``columns`` is the width of M.

    Rows are kept as terms rather than dense vectors so that encryption can evaluate a
    Vandermonde segment by Horner's rule with small multipliers, and share segments that
    several rows inherit from one gate.
    """

    labels: tuple[str, ...]
    rows: tuple[Row, ...]
    columns: int

    def dense_row(self, i: int) -> list[int]:
        """Row ``i`` as a full list of ``columns`` integer entries (not reduced)."""
        out = [0] * self.columns
        for column, base, count in self.rows[i]:
            power = 1
            for m in range(count):
                power *= base
                out[column + m] += power
        return out


def span_program(policy: Policy) -> SpanProgram:
    """Build the span program of ``policy`` (deterministic: same policy, same matrix)."""
    labels: list[str] = []
    rows: list[Row] = []
    next_column = 1

    def build(node: Policy, vector: Row) -> None:
        nonlocal next_column
        if isinstance(node, Attribute):
            labels.append(node.name)
            rows.append(vector)
            return
        if not isinstance(node, Gate):
            raise TypeError(f"not a policy node: {type(node).__name__}")
        n, k = len(node.children), node.threshold
        if k == 1:
            for child in node.children:
                build(child, vector)
            return
        first = next_column
        next_column += k - 1
        if k == n:
            # Chained Lewko-Waters split: v + e_1, -e_1 + e_2, ..., -e_(n-1).
            for index, child in enumerate(node.children):
                terms: list[Term] = list(vector) if index == 0 else [(first + index - 1, -1, 1)]
                if index < n - 1:
                    terms.append((first + index, 1, 1))
                build(child, tuple(terms))
            return
        for x, child in enumerate(node.children, start=1):
            build(child, (*vector, (first, x, k - 1)))

    build(policy, ((0, 1, 1),))
    return SpanProgram(tuple(labels), tuple(rows), next_column)


def recombination(policy: Policy, attributes: Collection[str], order: int) -> dict[int, int]:
    """Coefficients ``{row: gamma}`` with sum gamma_i M_i = e_0 over rows the attributes label.

    Rows not in the result have gamma = 0. Raises :class:`UnsatisfiedPolicyError` when the
    attributes do not satisfy the policy. ``order`` is the group order (the field of M).
    """
    held = set(attributes)
    result: dict[int, int] = {}

    def solve(node: Policy, offset: int, weight: int) -> None:
        if isinstance(node, Attribute):
            result[offset] = weight % order
            return
        if not isinstance(node, Gate):
            raise TypeError(f"not a policy node: {type(node).__name__}")
        offsets, start = [], offset
        for child in node.children:
            offsets.append(start)
            start += child.leaf_count
        chosen = [i for i, child in enumerate(node.children) if child.satisfied_by(held)]
        chosen = chosen[: node.threshold]
        k, n = node.threshold, len(node.children)
        if k == 1 or k == n:
            # or: one child carries the whole vector; and: every child gets weight 1.
            for i in chosen:
                solve(node.children[i], offsets[i], weight)
            return
        lambdas = lagrange_at_zero([i + 1 for i in chosen], order)
        for i, lam in zip(chosen, lambdas, strict=True):
            solve(node.children[i], offsets[i], weight * lam)

    if not policy.satisfied_by(held):
        raise UnsatisfiedPolicyError("the attributes do not satisfy the policy")
    solve(policy, 0, 1)
    return result
