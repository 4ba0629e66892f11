"""Span programs from policy trees, checked by linear algebra independent of the builder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from crypto.abe.errors import UnsatisfiedPolicyError
from crypto.abe.span import recombination, span_program
from crypto.groups.params import R
from crypto.policy import Policy, evaluate, parse
from tests.crypto.test_abe_support import attribute_sets, policies


def _spans_target(rows: list[list[int]], width: int) -> bool:
    """Whether e_0 lies in the row span of ``rows`` modulo R (Gaussian elimination)."""
    basis: list[list[int]] = []
    pivots: list[int] = []
    for row in rows:
        vec = [x % R for x in row]
        for b, p in zip(basis, pivots, strict=True):
            if vec[p]:
                f = vec[p]
                vec = [(x - f * y) % R for x, y in zip(vec, b, strict=True)]
        pivot = next((i for i, x in enumerate(vec) if x), None)
        if pivot is None:
            continue
        inv = pow(vec[pivot], -1, R)
        vec = [x * inv % R for x in vec]
        for i, b in enumerate(basis):
            if b[pivot]:
                f = b[pivot]
                basis[i] = [(x - f * y) % R for x, y in zip(b, vec, strict=True)]
        basis.append(vec)
        pivots.append(pivot)
    target = [1] + [0] * (width - 1)
    for b, p in zip(basis, pivots, strict=True):
        if target[p]:
            f = target[p]
            target = [(x - f * y) % R for x, y in zip(target, b, strict=True)]
    return not any(target)


@settings(max_examples=200)
@given(policies(max_depth=4), attribute_sets)
def test_authorised_exactly_when_rows_span_target(policy: Policy, attrs: set[str]) -> None:
    program = span_program(policy)
    rows = [program.dense_row(i) for i, lab in enumerate(program.labels) if lab in attrs]
    assert _spans_target(rows, program.columns) == evaluate(policy, attrs)


@settings(max_examples=200)
@given(policies(max_depth=4), attribute_sets)
def test_recombination_yields_target(policy: Policy, attrs: set[str]) -> None:
    program = span_program(policy)
    if not evaluate(policy, attrs):
        with pytest.raises(UnsatisfiedPolicyError):
            recombination(policy, attrs, R)
        return
    gammas = recombination(policy, attrs, R)
    assert all(program.labels[i] in attrs for i in gammas)
    total = [0] * program.columns
    for i, gamma in gammas.items():
        for j, entry in enumerate(program.dense_row(i)):
            total[j] = (total[j] + gamma * entry) % R
    assert total == [1] + [0] * (program.columns - 1)


def test_shapes_of_gates() -> None:
    and_program = span_program(parse("a and b and c"))
    assert and_program.columns == 3
    assert [and_program.dense_row(i) for i in range(3)] == [[1, 1, 0], [0, -1, 1], [0, 0, -1]]
    or_program = span_program(parse("a or b"))
    assert or_program.columns == 1
    threshold = span_program(parse("2 of (a, b, c)"))
    assert [threshold.dense_row(i) for i in range(3)] == [[1, 1], [1, 2], [1, 3]]
    assert span_program(parse("a and (a or b)")).labels == ("a", "a", "b")
