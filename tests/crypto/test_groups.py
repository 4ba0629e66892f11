"""The pairing-group layer: algebra on both backends, byte-identical encodings, strict decoding."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from crypto.groups import Group
from crypto.groups.params import G1_BYTES, G2_BYTES, GT_BYTES, P, R
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes

VECTORS = Path(__file__).parent.parent / "vectors"
scalars = st.integers(min_value=1, max_value=R - 1)


def test_bilinearity(group: Group) -> None:
    a, b = 0x1234567, 0x7654321_89ABCDEF
    left = group.pairing(group.g1 * a, group.g2 * b)
    assert left == group.z ** (a * b)
    assert left == group.pairing(group.g1 * (a * b), group.g2)
    assert not group.z.is_one()
    assert (group.z**R).is_one()


def test_group_laws(group: Group) -> None:
    p, q = group.g1 * 5, group.g1 * 7
    assert p + q == group.g1 * 12
    assert q - p == group.g1 * 2
    assert (p + (-p)).is_identity()
    assert group.g1 * R == group.g1_identity()
    x = group.g2 * 11
    assert x - x == group.g2_identity()
    e = group.z**3
    assert e * e.inverse() == group.gt_one
    assert e / e == group.gt_one


@settings(max_examples=25)
@given(k=st.integers(min_value=0, max_value=2 * R))
def test_fixed_base_tables_agree_with_plain_exponentiation(mcl: Group, k: int) -> None:
    assert mcl.z_pow(k) == mcl.z**k
    assert mcl.g2_mul_generator(k) == mcl.g2 * k


def test_warm_up_changes_no_result(group: Group) -> None:
    before = (group.z_pow(2**200 + 5), group.g2_mul_generator(2**200 + 5))
    group.warm_up()
    group.warm_up()
    assert (group.z_pow(2**200 + 5), group.g2_mul_generator(2**200 + 5)) == before
    assert group.z_pow(3) == group.z**3


def test_pairing_product_equals_product_of_pairings(group: Group) -> None:
    pairs = [(group.g1 * 3, group.g2 * 5), (group.g1 * 7, group.g2 * 2)]
    expected = group.pairing(*pairs[0]) * group.pairing(*pairs[1])
    assert group.pairing_product(pairs) == expected
    assert group.pairing_product([(group.g1_identity(), group.g2)]) == group.gt_one


@settings(max_examples=6)
@given(k=scalars)
def test_backends_encode_identically(mcl: Group, pyecc: Group, k: int) -> None:
    assert bytes(mcl.g1 * k) == bytes(pyecc.g1 * k)
    assert bytes(mcl.g2 * k) == bytes(pyecc.g2 * k)
    assert bytes(mcl.z**k) == bytes(pyecc.z**k)


@settings(max_examples=2)
@given(a=scalars, b=scalars)
def test_backends_pair_identically(mcl: Group, pyecc: Group, a: int, b: int) -> None:
    assert bytes(mcl.pairing(mcl.g1 * a, mcl.g2 * b)) == bytes(
        pyecc.pairing(pyecc.g1 * a, pyecc.g2 * b)
    )


def test_cross_backend_decoding(mcl: Group, pyecc: Group) -> None:
    k = 0xC0FFEE
    assert pyecc.g1_from_bytes(bytes(mcl.g1 * k)) == pyecc.g1 * k
    assert mcl.g2_from_bytes(bytes(pyecc.g2 * k)) == mcl.g2 * k
    assert mcl.gt_from_bytes(bytes(pyecc.z**k)) == mcl.z**k


@settings(max_examples=20)
@given(k=scalars)
def test_round_trips(mcl: Group, k: int) -> None:
    assert mcl.g1_from_bytes(bytes(mcl.g1 * k)) == mcl.g1 * k
    assert mcl.g2_from_bytes(bytes(mcl.g2 * k)) == mcl.g2 * k
    assert mcl.gt_from_bytes(bytes(mcl.z**k)) == mcl.z**k
    assert scalar_from_bytes(scalar_to_bytes(k)) == k


def test_identity_encodings(group: Group) -> None:
    assert bytes(group.g1_identity()) == b"\xc0" + bytes(G1_BYTES - 1)
    assert group.g1_from_bytes(bytes(group.g1_identity())).is_identity()
    assert group.g2_from_bytes(bytes(group.g2_identity())).is_identity()


def test_rfc9380_vectors(group: Group) -> None:
    vectors = json.loads((VECTORS / "rfc9380_h2c.json").read_text())
    g1 = vectors["G1"]
    for case in g1["cases"]:
        point = group.hash_to_g1(case["msg"].encode(), g1["dst"].encode())
        x = int(case["x"], 16)
        assert bytes(point)[1:] == x.to_bytes(48, "big")[1:]
        assert bytes(point)[0] & 0x1F == x.to_bytes(48, "big")[0]
        sign = int(case["y"], 16) > (P - 1) // 2
        assert bool(bytes(point)[0] & 0x20) == sign
    g2 = vectors["G2"]
    case = g2["cases"][0]  # py_ecc's G2 hashing takes a while; one case per backend is enough
    point = group.hash_to_g2(case["msg"].encode(), g2["dst"].encode())
    raw = bytes(point)
    assert int.from_bytes(bytes([raw[0] & 0x1F]) + raw[1:48], "big") == int(case["x1"], 16)
    assert int.from_bytes(raw[48:], "big") == int(case["x0"], 16)


@settings(max_examples=30)
@given(message=st.binary(max_size=300), dst=st.binary(min_size=1, max_size=255))
def test_hash_to_g1_matches_the_python_oracle(
    mcl: Group, pyecc: Group, message: bytes, dst: bytes
) -> None:
    assert bytes(mcl.hash_to_g1(message, dst)) == bytes(pyecc.hash_to_g1(message, dst))


def test_mcl_hashes_natively(mcl: Group) -> None:
    assert getattr(mcl, "native_hashing", False)


def test_hash_to_g1_is_domain_separated(mcl: Group) -> None:
    assert mcl.hash_to_g1(b"m", b"DST-A") != mcl.hash_to_g1(b"m", b"DST-B")
    assert mcl.hash_to_g1(b"m", b"DST-A") == mcl.hash_to_g1(b"m", b"DST-A")


def test_two_mcl_groups_hash_under_their_own_dst(mcl: Group, pyecc: Group) -> None:
    """mcl keeps one DST for the whole process: a second group object must not hash under
    whatever DST the first one left set, nor make the first hash under its own."""
    from crypto.groups.mcl_backend import MclGroup

    vectors = json.loads((VECTORS / "rfc9380_h2c.json").read_text())["G1"]
    rfc_dst = vectors["dst"].encode()
    case = vectors["cases"][0]
    other = MclGroup()
    assert other is not mcl
    ours = b"iomtshare-test-DST-A"
    for first, second in ((mcl, other), (other, mcl), (mcl, mcl), (other, other)):
        for _ in range(2):
            assert bytes(first.hash_to_g1(b"m", ours)) == bytes(pyecc.hash_to_g1(b"m", ours))
            point = second.hash_to_g1(case["msg"].encode(), rfc_dst)
            assert bytes(point)[1:] == int(case["x"], 16).to_bytes(48, "big")[1:]
    third = MclGroup()  # making a group (its known-answer check) sets the DST too
    assert bytes(mcl.hash_to_g1(b"m", ours)) == bytes(pyecc.hash_to_g1(b"m", ours))
    assert bytes(third.hash_to_g1(b"m", ours)) == bytes(pyecc.hash_to_g1(b"m", ours))


def _off_subgroup_g1() -> bytes:
    # (0, 2) lies on y^2 = x^3 + 4 but has order 3, so it is outside the order-r subgroup.
    return bytes([0x80]) + bytes(47)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (bytes(G1_BYTES), "uncompressed flag missing"),
        (b"\xc0" + bytes(G1_BYTES - 2) + b"\x01", "infinity with junk"),
        (b"\xe0" + bytes(G1_BYTES - 1), "infinity with sign"),
        (bytes([0x80 | 0x1F]) + b"\xff" * (G1_BYTES - 1), "x not reduced"),
        (_off_subgroup_g1(), "off subgroup"),
        (b"\x80" + bytes(G1_BYTES), "too long"),
    ],
)
def test_g1_decoding_rejects(group: Group, data: bytes, why: str) -> None:
    with pytest.raises(DecodeError):
        group.g1_from_bytes(data)


def test_g1_decoding_rejects_x_off_curve(group: Group) -> None:
    # Find an x with x^3 + 4 a non-square: that x has no point.
    x = 1
    while pow((x**3 + 4) % P, (P - 1) // 2, P) == 1:
        x += 1
    with pytest.raises(DecodeError):
        group.g1_from_bytes(bytes([0x80]) + x.to_bytes(48, "big")[1:])


def test_g2_and_gt_decoding_rejects(group: Group) -> None:
    good_g2 = bytes(group.g2 * 3)
    for bad in (good_g2[:-1], bytes(G2_BYTES), b"\xff" * G2_BYTES):
        with pytest.raises(DecodeError):
            group.g2_from_bytes(bad)
    good_gt = bytes(group.z)
    for bad in (good_gt[:-1], bytes(GT_BYTES), b"\xff" * GT_BYTES):
        with pytest.raises(DecodeError):
            group.gt_from_bytes(bad)
    # A reduced element of Fp12 that is not in GT: 2 is in Fp, and 2^r != 1.
    two = (2).to_bytes(48, "big") + bytes(GT_BYTES - 48)
    with pytest.raises(DecodeError):
        group.gt_from_bytes(two)
    # Without the order test it parses, and re-encodes to the same bytes.
    assert bytes(group.gt_from_bytes(two, check_subgroup=False)) == two
    with pytest.raises(DecodeError):
        group.gt_from_bytes(bytes(GT_BYTES), check_subgroup=False)


@settings(max_examples=200)
@given(data=st.binary(min_size=0, max_size=100))
def test_random_bytes_never_crash_g1(mcl: Group, data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        mcl.g1_from_bytes(data)


@settings(max_examples=50)
@given(data=st.binary(min_size=G2_BYTES, max_size=G2_BYTES))
def test_random_bytes_never_crash_g2(mcl: Group, data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        mcl.g2_from_bytes(bytes([data[0] | 0x80]) + data[1:])


def test_scalar_decoding() -> None:
    with pytest.raises(DecodeError):
        scalar_from_bytes(R.to_bytes(32, "big"))
    with pytest.raises(DecodeError):
        scalar_from_bytes(bytes(31))
