"""Shares with a factor outside GT are refused, and the batch agrees with the single check.

An earlier decoder let A and B carry a factor outside GT. A prover that followed the protocol
except for such a factor in A and B (-1 in both, or a cube root of unity and its inverse) made a
proof that the one-pairing check accepted whenever the hashed weight w cancelled the factors,
with s_i still right; the random batch then failed on it about half the time, so a Byzantine
node could force every share of a request to be checked alone. Now s_i, A and B must lie in GT
to decode at all (module docstring of ``crypto.tpre.share``). Everything here runs on both
backends, py_ecc being the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cache

import pymcl
import pytest

import crypto.tpre.share as share_module
from crypto.errors import DecodeError, VerificationError
from crypto.groups import Group, GTElement
from crypto.groups.mcl_backend import MclGT
from crypto.groups.params import FP_BYTES, GT_BYTES, P
from crypto.tpre import ReEncryptionShare, verify_share, verify_shares_batch
from crypto.tpre.share import _challenge, _check_weight, _share_challenge
from tests.crypto.tpre_helpers import World, make_world

CONTEXT = b"crafted"
_HEADER = 2 + 2  # type tag and version, then the index
OFFSETS = {"s_i": _HEADER, "A": _HEADER + GT_BYTES, "B": _HEADER + 2 * GT_BYTES}


@pytest.fixture(scope="module")
def world(group: Group) -> World:
    return make_world(group, threshold=3, n=3)


def _fp(x: int) -> bytes:
    """x in Fp as an encoded Fp12 value."""
    return x.to_bytes(FP_BYTES, "big") + bytes(GT_BYTES - FP_BYTES)


def _cube_root_of_unity() -> int:
    return next(z for g in range(2, 100) if (z := pow(g, (P - 1) // 3, P)) != 1)


def _mcl_power(base: pymcl.GT, exponent: int) -> pymcl.GT:
    acc = pymcl.GT()
    for bit in bin(exponent)[2:]:
        acc = acc * acc
        if bit == "1":
            acc = acc * base
    return acc


@cache
def _cyclotomic_outside_gt() -> bytes:
    """y^((p^6 - 1)(p^2 + 1)): in the cyclotomic subgroup (order r times a large cofactor),
    not in GT. It passes the first half of the fast GT test and must fail the second."""
    y = pymcl.GT.deserialize(
        b"".join((0xABCDEF * (i + 5) ** 33 % P).to_bytes(FP_BYTES, "little") for i in range(12))
    )
    return bytes(MclGT(_mcl_power(y, (P**6 - 1) * (P**2 + 1))))


def _outside_factors() -> dict[str, bytes]:
    zeta = _cube_root_of_unity()
    return {
        "-1": _fp(P - 1),
        "cube root of unity": _fp(zeta),
        "2": _fp(2),
        "cyclotomic": _cyclotomic_outside_gt(),
    }


def _unchecked(g: Group, data: bytes) -> GTElement:
    return g.gt_from_bytes(data, check_subgroup=False)


def _with_factor(g: Group, raw: bytes, offset: int, factor: GTElement) -> bytes:
    element = _unchecked(g, raw[offset : offset + GT_BYTES]) * factor
    return raw[:offset] + bytes(element) + raw[offset + GT_BYTES :]


def test_a_factor_outside_gt_in_any_value_is_refused_at_decoding(world: World) -> None:
    g = world.group
    raw = world.shares(CONTEXT)[0].to_bytes()
    ReEncryptionShare.from_bytes(g, raw)  # the honest share decodes
    for data in _outside_factors().values():
        with pytest.raises(DecodeError, match="order-r"):  # truly outside GT, by the oracle
            g.gt_from_bytes(data)
        factor = _unchecked(g, data)
        for offset in OFFSETS.values():  # s_i, A, B
            with pytest.raises(DecodeError, match="order-r"):
                ReEncryptionShare.from_bytes(g, _with_factor(g, raw, offset, factor))
        both = _with_factor(g, _with_factor(g, raw, OFFSETS["A"], factor), OFFSETS["B"], factor)
        with pytest.raises(DecodeError, match="order-r"):
            ReEncryptionShare.from_bytes(g, both)


def _crafted_shares(world: World, junk_a: GTElement, junk_b: GTElement) -> Iterator[tuple]:
    """Honest proofs for node 1 with A and B times factors outside GT, each with its weight w."""
    g, c1 = world.group, world.ciphertext.c1
    rekey = world.rekeys[0]
    rk, vk = rekey.share.rk, rekey.verification_key
    value = rekey.prepared_rk.pairing(c1)
    while True:
        u = g.random_scalar()
        a, b = value**u * junk_a, vk**u * junk_b
        c = _challenge(CONTEXT, c1, 1, value, vk, a, b)
        response = rk * ((u + c) % g.order)
        yield ReEncryptionShare(1, value, a, b, response), _check_weight(c, response)


def _old_check_holds(world: World, share: ReEncryptionShare) -> bool:
    """The earlier one-pairing check, with a plain Fp12 power for B as it had."""
    g, c1, vk = world.group, world.ciphertext.c1, world.vks[0]
    c = _share_challenge(CONTEXT, c1, share, vk)
    weight = _check_weight(c, share.response)
    lhs = g.pairing(c1 + g.g1 * weight, share.response)
    grant_side = g.gt_pow_unchecked(share.commitment_b * vk**c, weight)
    return bool(lhs == share.commitment_a * share.value**c * grant_side)


def _old_attacks(world: World) -> dict[str, bytes]:
    """Crafted shares whose w cancels their factors, so the earlier check accepted them."""
    g = world.group
    minus_one = _unchecked(g, _fp(P - 1))
    zeta = _cube_root_of_unity()
    junk = {
        "-1 in A and B, w odd": (minus_one, minus_one, lambda w: w % 2 == 1),
        "zeta in A, 1/zeta in B, w = 1 mod 3": (
            _unchecked(g, _fp(zeta)),
            _unchecked(g, _fp(zeta * zeta % P)),
            lambda w: w % 3 == 1,
        ),
    }
    attacks = {}
    for name, (junk_a, junk_b, cancels) in junk.items():
        share = next(s for s, w in _crafted_shares(world, junk_a, junk_b) if cancels(w))
        attacks[name] = share.to_bytes()
    return attacks


def test_the_earlier_attack_is_refused_at_decoding(world: World) -> None:
    g = world.group
    for name, data in _old_attacks(world).items():
        unchecked = _decode_unchecked(g, data)
        assert unchecked.value == g.pairing(world.ciphertext.c1, world.rekeys[0].share.rk), name
        assert _old_check_holds(world, unchecked), name
        with pytest.raises(DecodeError, match="order-r"):
            ReEncryptionShare.from_bytes(g, data)


def _decode_unchecked(g: Group, data: bytes) -> ReEncryptionShare:
    """The share as the earlier decoder read it: A and B without the order-r test."""
    share = ReEncryptionShare.from_bytes(g, _clean_commitments(g, data))
    a = _unchecked(g, data[OFFSETS["A"] : OFFSETS["A"] + GT_BYTES])
    b = _unchecked(g, data[OFFSETS["B"] : OFFSETS["B"] + GT_BYTES])
    return ReEncryptionShare(share.index, share.value, a, b, share.response)


def _clean_commitments(g: Group, data: bytes) -> bytes:
    one = bytes(g.gt_one)
    return data[: OFFSETS["A"]] + one + one + data[OFFSETS["B"] + GT_BYTES :]


def _spy_on_single_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every share the batch falls back to checking alone."""
    calls: list[int] = []
    real: Callable[..., object] = share_module.verify_share

    def spy(group: Group, share: ReEncryptionShare, *args: object) -> object:
        calls.append(share.index)
        return real(group, share, *args)

    monkeypatch.setattr(share_module, "verify_share", spy)
    return calls


def _candidates(world: World) -> dict[str, bytes]:
    """What a Byzantine node 1 might send for one request, as bytes."""
    g = world.group
    honest = world.shares(CONTEXT)[0]
    z = g.z
    return {
        "honest": honest.to_bytes(),
        **_old_attacks(world),
        "s_i times z": replace(honest, value=honest.value * z).to_bytes(),
        "A times z, B over z": replace(
            honest, commitment_a=honest.commitment_a * z, commitment_b=honest.commitment_b / z
        ).to_bytes(),
        "z plus g2": replace(honest, response=honest.response + g.g2).to_bytes(),
        "another request": world.shares(b"another request")[0].to_bytes(),
    }


def test_a_share_valid_alone_never_sends_the_batch_to_single_checks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever node 1 sends: refused at decoding, or refused alone and named by the batch,
    or accepted alone and then accepted by every random batch without falling back."""
    g, c1 = world.group, world.ciphertext.c1
    honest_others = world.shares(CONTEXT)[1:]
    rounds = 12 if g.name == "mcl" else 1  # a py_ecc pairing takes a fifth of a second
    verdicts = {}
    for name, data in _candidates(world).items():
        try:
            candidate = ReEncryptionShare.from_bytes(g, data)
        except DecodeError:
            verdicts[name] = "refused at decoding"
            continue
        try:
            verify_share(g, candidate, world.vks[0], c1, CONTEXT)
        except VerificationError:
            verdicts[name] = "refused alone"
        else:
            verdicts[name] = "accepted"
        calls = _spy_on_single_checks(monkeypatch)
        for _ in range(rounds):
            shares = [candidate, *honest_others]
            if verdicts[name] == "accepted":
                verified = verify_shares_batch(g, shares, world.vk_map(), c1, CONTEXT)
                assert [v.index for v in verified] == [1, 2, 3]
                assert calls == [], name  # the batch held: no share was checked alone
            else:
                with pytest.raises(VerificationError, match=r"nodes \[1\]"):
                    verify_shares_batch(g, shares, world.vk_map(), c1, CONTEXT)
        monkeypatch.undo()
    assert verdicts == {
        "honest": "accepted",
        "-1 in A and B, w odd": "refused at decoding",
        "zeta in A, 1/zeta in B, w = 1 mod 3": "refused at decoding",
        "s_i times z": "refused alone",
        "A times z, B over z": "refused alone",
        "z plus g2": "refused alone",
        "another request": "refused alone",
    }
