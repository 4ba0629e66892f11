"""Prepared pairings, mcl's GT membership test and cached encodings, against the plain paths."""

from __future__ import annotations

from math import gcd

import pymcl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from crypto.groups import Group, load_group
from crypto.groups.mcl_backend import MclGroup, MclGT, _gt_has_order_r
from crypto.groups.mcl_gt import CURVE_PARAMETER_ABS, GTMembership, load_gt_test
from crypto.groups.mcl_native import load_native
from crypto.groups.params import FP_BYTES, GT_BYTES, P, R

scalars = st.integers(min_value=1, max_value=R - 1)


def test_mcl_pairs_natively(mcl: Group) -> None:
    assert getattr(mcl, "native_pairing", False)


@settings(max_examples=15)
@given(a=scalars, b=scalars)
def test_prepared_pairing_equals_plain_pairing_on_mcl(mcl: Group, a: int, b: int) -> None:
    q = mcl.g2 * b
    prepared = mcl.prepare_g2(q)
    assert prepared.point == q
    for p in (mcl.g1 * a, mcl.g1, mcl.g1_identity()):
        assert prepared.pairing(p) == mcl.pairing(p, q)


@settings(max_examples=10)
@given(a=scalars)
def test_pairing_with_the_generator_uses_lines_and_agrees(mcl: Group, a: int) -> None:
    p = mcl.g1 * a
    other_g2 = mcl.g2 * 1  # equal to g2 but another object: the plain pymcl pairing
    assert other_g2 is not mcl.g2
    assert mcl.pairing(p, mcl.g2) == mcl.pairing(p, other_g2) == mcl.z**a


def test_prepared_pairing_agrees_across_backends(mcl: Group, pyecc: Group) -> None:
    a, b = 0xBADC0FFEE, 0x5EED
    fast = mcl.prepare_g2(mcl.g2 * b).pairing(mcl.g1 * a)
    slow = pyecc.prepare_g2(pyecc.g2 * b).pairing(pyecc.g1 * a)
    assert bytes(fast) == bytes(slow)
    assert fast == mcl.z ** (a * b)


def test_prepared_identity_pairs_to_one(group: Group) -> None:
    assert group.prepare_g2(group.g2_identity()).pairing(group.g1 * 3).is_one()


def test_prepared_point_is_hidden_and_typed(group: Group, mcl: Group, pyecc: Group) -> None:
    prepared = group.prepare_g2(group.g2 * 7)
    assert "<hidden>" in repr(prepared)
    other = pyecc if group is mcl else mcl
    with pytest.raises(TypeError):
        prepared.pairing(other.g1)
    if group is mcl:
        with pytest.raises(TypeError):
            mcl.prepare_g2(pyecc.g2)


def test_backend_without_native_pairing_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crypto.groups.mcl_backend.load_native", lambda: None)
    plain = MclGroup()
    assert not plain.native_pairing
    q = plain.g2 * 9
    assert plain.prepare_g2(q).pairing(plain.g1 * 4) == plain.z**36
    assert plain.gt_from_bytes(bytes(plain.z**5)) == plain.z**5


def _fp12(*coefficients: int) -> pymcl.GT:
    padded = list(coefficients) + [0] * (12 - len(coefficients))
    return pymcl.GT.deserialize(b"".join(c.to_bytes(FP_BYTES, "little") for c in padded))


def _power(base: pymcl.GT, exponent: int) -> pymcl.GT:
    """Square-and-multiply with plain Fp12 products, valid for any element (unlike ``**``)."""
    acc = pymcl.GT()
    for bit in bin(exponent)[2:]:
        acc = acc * acc
        if bit == "1":
            acc = acc * base
    return acc


def _zeta() -> int:
    """A cube root of unity in Fp (p = 1 mod 3)."""
    return next(z for g in range(2, 100) if (z := pow(g, (P - 1) // 3, P)) != 1)


def test_native_gt_test_agrees_with_square_and_multiply() -> None:
    native = load_native()
    assert native is not None
    z = load_group("mcl").z
    assert isinstance(z, MclGT)
    rnd = _fp12(*(0x1234567 * (i + 3) ** 40 % P for i in range(12)))
    # Into the cyclotomic subgroup (order p^4 - p^2 + 1 = r h): in GT only after ^h.
    cyclotomic = _power(rnd, (P**6 - 1) * (P**2 + 1))
    h = (P**4 - P**2 + 1) // R
    cases = {
        "z": (z._e, True),
        "z^k": (z._e ** pymcl.Fr(str(0xFEED)), True),
        "one": (pymcl.GT(), True),
        "cleared cyclotomic": (_power(cyclotomic, h), True),
        "two": (_fp12(2), False),
        "-1": (_fp12(P - 1), False),
        "z times a cube root of unity": (z._e * _fp12(_zeta()), False),
        "random Fp12": (rnd, False),
        "cyclotomic, outside GT": (cyclotomic, False),
    }
    fast = _fast_test()
    for name, (element, inside) in cases.items():
        assert native.has_order_r(element) is inside, name
        assert fast(element) is inside, name
        assert _gt_has_order_r(element) is inside, name


def test_the_numbers_behind_the_fast_gt_test() -> None:
    u = -CURVE_PARAMETER_ABS
    phi12 = P**4 - P**2 + 1
    # Every element of GT passes both equations...
    assert (P - u) % R == 0
    assert phi12 % R == 0
    assert gcd(P - u, phi12) == R  # ...and only those pass both
    assert gcd(P - u, P**12 - 1) == R * (1 - u)  # the second alone lets more through


def _fast_test() -> GTMembership:
    native = load_native()
    assert native is not None
    return GTMembership(native)


def test_fast_gt_test_agrees_with_mcl_on_elements_each_half_would_miss() -> None:
    native = load_native()
    assert native is not None
    fast = _fast_test()
    z = load_group("mcl").z
    assert isinstance(z, MclGT)
    rnd = _fp12(*(0x7654321 * (i + 9) ** 41 % P for i in range(12)))
    # Order dividing 1 - u: y^(p - u) = 1 holds, but y is not in the cyclotomic subgroup.
    small = _power(rnd, (P**12 - 1) // (1 - (-CURVE_PARAMETER_ABS)))
    # In the cyclotomic subgroup but of order not r: y^(p - u) is not 1.
    cyclotomic = _power(rnd, (P**6 - 1) * (P**2 + 1))
    assert small != pymcl.GT()
    for element in (small, small * z._e):
        assert (fast.frobenius(element, 1) * _power(element, CURVE_PARAMETER_ABS)).is_one()
        assert not fast(element)
        assert not native.has_order_r(element)
    for element in (cyclotomic, cyclotomic * z._e):
        assert fast.frobenius(element, 4) * element == fast.frobenius(element, 2)
        assert not fast(element)
        assert not native.has_order_r(element)
    cleared = _power(cyclotomic, (P**4 - P**2 + 1) // R)
    for element in (z._e, z._e ** pymcl.Fr(str(0xFEED)), pymcl.GT(), cleared):
        assert fast(element)
        assert native.has_order_r(element)


def test_frobenius_matrices_are_the_p_th_powers() -> None:
    fast = _fast_test()
    x = _fp12(*(0x1234567 * (i + 3) ** 40 % P for i in range(12)))  # far outside GT
    x_p = _power(x, P)
    assert fast.frobenius(x, 1) == x_p
    assert fast.frobenius(x, 2) == _power(x_p, P)
    assert fast.frobenius(x, 4) == fast.frobenius(fast.frobenius(x, 2), 2)


def test_mcl_decodes_gt_with_the_fast_test(mcl: Group, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(mcl, MclGroup)
    assert isinstance(mcl._gt_test, GTMembership)
    monkeypatch.setattr(GTMembership, "__call__", lambda self, x: True)  # a broken test
    native = load_native()
    assert native is not None
    assert load_gt_test(native) is None  # is caught by its known answers
    monkeypatch.setattr("crypto.groups.mcl_backend.load_gt_test", lambda native: None)
    plain = MclGroup()  # then mcl's own test decides
    assert plain.gt_from_bytes(bytes(plain.z**5)) == plain.z**5
    with pytest.raises(DecodeError, match="order-r"):
        plain.gt_from_bytes((2).to_bytes(FP_BYTES, "big") + bytes(GT_BYTES - FP_BYTES))


def test_decoded_elements_keep_their_encoding(mcl: Group) -> None:
    for element, decode in (
        (mcl.g1 * 5, mcl.g1_from_bytes),
        (mcl.g2 * 5, mcl.g2_from_bytes),
        (mcl.z**5, mcl.gt_from_bytes),
    ):
        data = bytes(element)
        decoded = decode(data)
        assert decoded == element
        assert bytes(decoded) == data
        assert bytes(decoded) == bytes(decoded)


@settings(max_examples=10)
@given(k=scalars)
def test_cached_encodings_match_the_reference(mcl: Group, pyecc: Group, k: int) -> None:
    point = mcl.g1 * k
    first = bytes(point)
    assert bytes(point) == first == bytes(pyecc.g1 * k)
    gt = mcl.z ** (k % 1000)
    assert bytes(gt) == bytes(gt) == bytes(pyecc.z ** (k % 1000))
    assert len(bytes(gt)) == GT_BYTES


def test_unchecked_power_is_a_plain_power_outside_gt(mcl: Group, pyecc: Group) -> None:
    two = (2).to_bytes(FP_BYTES, "big") + bytes(GT_BYTES - FP_BYTES)
    k = (1 << 127) + 0x1234567
    fast = mcl.gt_pow_unchecked(mcl.gt_from_bytes(two, check_subgroup=False), k)
    slow = pyecc.gt_pow_unchecked(pyecc.gt_from_bytes(two, check_subgroup=False), k)
    assert (
        bytes(fast)
        == bytes(slow)
        == pow(2, k, P).to_bytes(FP_BYTES, "big") + bytes(GT_BYTES - FP_BYTES)
    )


@settings(max_examples=10)
@given(k=st.integers(min_value=0, max_value=R - 1))
def test_unchecked_power_agrees_with_power_inside_gt(mcl: Group, k: int) -> None:
    x = mcl.z**0xABCDEF
    assert mcl.gt_pow_unchecked(x, k) == x**k


def test_unchecked_power_rejects_out_of_range_exponents(group: Group) -> None:
    for k in (-1, R):
        with pytest.raises(ValueError, match="out of range"):
            group.gt_pow_unchecked(group.z, k)


def test_unchecked_power_without_native_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crypto.groups.mcl_backend.load_native", lambda: None)
    plain = MclGroup()
    x = plain.z**7
    assert plain.gt_pow_unchecked(x, 1000003) == x**1000003


def test_gt_power_outside_gt_is_still_right_on_the_gt_component(mcl: Group) -> None:
    """``x ** k`` on mcl need not be x^k outside GT, but its GT component is (x's)^k.

    Why ``**`` must not be used on values decoded without the order-r test (such values now
    reach no verifier: shares' commitments are checked when decoded).
    """
    cofactor = (P**12 - 1) // R
    to_gt = cofactor * pow(cofactor, -1, R)  # kills everything outside GT, identity on GT
    for seed in range(3):
        x = _fp12(*((seed + 2) ** (i + 50) % P for i in range(12)))
        k = (0xC0FFEE + seed) ** 9 % R
        raised = x ** pymcl.Fr(str(k))
        assert _power(raised, to_gt) == _power(_power(x, to_gt), k)
