"""Polynomial helpers behind Shamir dealing and Pedersen splitting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import ThresholdError
from crypto.groups.params import R
from crypto.polynomial import (
    evaluate_polynomial,
    interpolate,
    lagrange_at_zero,
    random_polynomial,
)


@settings(max_examples=60)
@given(
    st.lists(st.integers(0, R - 1), min_size=1, max_size=8),
    st.lists(st.integers(1, 500), min_size=8, max_size=8, unique=True),
)
def test_interpolation_recovers_coefficients(coefficients: list[int], xs: list[int]) -> None:
    points = [(x, evaluate_polynomial(coefficients, x, R)) for x in xs[: len(coefficients)]]
    assert interpolate(points, R) == coefficients
    lambdas = lagrange_at_zero([x for x, _ in points], R)
    assert sum(lam * y for lam, (_, y) in zip(lambdas, points, strict=True)) % R == coefficients[0]


def test_random_polynomial_keeps_the_constant() -> None:
    poly = random_polynomial(R + 5, 3, R)
    assert len(poly) == 4
    assert poly[0] == 5


def test_bad_indexes_are_refused() -> None:
    with pytest.raises(ThresholdError):
        lagrange_at_zero([1, 1], R)
    with pytest.raises(ThresholdError):
        lagrange_at_zero([R, 2], R)
    with pytest.raises(ThresholdError):
        interpolate([(3, 1), (3, 2)], R)
