"""A share's s_i must lie in GT, and every crafted share is refused by both verifiers.

An earlier share format sent the proof's commitment (A, B), and its decoder let A and B carry a
factor outside GT: a prover that followed the protocol except for such a factor (-1 in both, or
a cube root of unity and its inverse) made a proof that the one-pairing check accepted whenever
a hashed weight cancelled the factors. Version 2 sends (c, z) and the verifier recomputes A and
B from s_i, VK_i and pairings, so only s_i comes from the prover, and it must lie in GT to
decode at all (module docstring of ``crypto.tpre.share``). Everything here runs on both
backends, py_ecc being the reference.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pymcl
import pytest

from crypto.errors import DecodeError, VerificationError
from crypto.groups import Group, GTElement
from crypto.groups.mcl_backend import MclGT
from crypto.groups.params import FP_BYTES, GT_BYTES, P
from crypto.tpre import ReEncryptionShare, verify_share, verify_shares_batch
from tests.crypto.tpre_helpers import World, make_world

CONTEXT = b"crafted"
_HEADER = 2 + 2  # type tag and version, then the index
S_I = _HEADER


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


def test_a_factor_outside_gt_in_s_i_is_refused_at_decoding(world: World) -> None:
    g = world.group
    raw = world.shares(CONTEXT)[0].to_bytes()
    ReEncryptionShare.from_bytes(g, raw)  # the honest share decodes
    for data in _outside_factors().values():
        with pytest.raises(DecodeError, match="order-r"):  # truly outside GT, by the oracle
            g.gt_from_bytes(data)
        factor = _unchecked(g, data)
        with pytest.raises(DecodeError, match="order-r"):
            ReEncryptionShare.from_bytes(g, _with_factor(g, raw, S_I, factor))


def _candidates(world: World) -> dict[str, bytes]:
    """What a Byzantine node 1 might send for one request, as bytes."""
    g = world.group
    honest = world.shares(CONTEXT)[0]
    z = g.z
    return {
        "honest": honest.to_bytes(),
        "s_i times -1": _with_factor(g, honest.to_bytes(), S_I, _unchecked(g, _fp(P - 1))),
        "s_i times z": replace(honest, value=honest.value * z).to_bytes(),
        "challenge bit flipped": replace(honest, challenge=honest.challenge ^ 1).to_bytes(),
        "z plus g2": replace(honest, response=honest.response + g.g2).to_bytes(),
        "another request": world.shares(b"another request")[0].to_bytes(),
    }


def test_crafted_shares_are_refused_alone_and_in_a_batch(world: World) -> None:
    """Whatever node 1 sends: refused at decoding, or refused alone and named by the batch
    check, or accepted by both."""
    g, c1 = world.group, world.ciphertext.c1
    honest_others = world.shares(CONTEXT)[1:]
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
            with pytest.raises(VerificationError, match=r"nodes \[1\]"):
                verify_shares_batch(g, [candidate, *honest_others], world.vk_map(), c1, CONTEXT)
        else:
            verdicts[name] = "accepted"
            verified = verify_shares_batch(
                g, [candidate, *honest_others], world.vk_map(), c1, CONTEXT
            )
            assert [v.index for v in verified] == [1, 2, 3]
    assert verdicts == {
        "honest": "accepted",
        "s_i times -1": "refused at decoding",
        "s_i times z": "refused alone",
        "challenge bit flipped": "refused alone",
        "z plus g2": "refused alone",
        "another request": "refused alone",
    }
