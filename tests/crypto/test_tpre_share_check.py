"""What the one-pairing share check accepts: exactly the documented predicate, on crafted proofs.

A prover that follows the protocol except for a factor outside GT in its commitments A and B
makes a proof whose GT parts are right. :func:`verify_share` accepts it exactly when the hashed
weight w cancels the outside factors, and its s_i is still e(C1, rk_i) (module docstring of
``crypto.tpre.share``). The batch never rejects a share that the single check accepts.
"""

from __future__ import annotations

import pytest

from crypto.errors import VerificationError
from crypto.groups import Group, GTElement
from crypto.groups.params import FP_BYTES, GT_BYTES, P
from crypto.tpre import ReEncryptionShare, verify_share, verify_shares_batch
from crypto.tpre.share import _challenge, _check_weight, reencryption_share
from tests.crypto.tpre_helpers import World, make_world

CONTEXT = b"crafted"


@pytest.fixture(scope="module")
def world(mcl: Group) -> World:
    return make_world(mcl, threshold=3, n=3)


def _in_fp(g: Group, x: int) -> GTElement:
    """x in Fp as an Fp12 value, decoded without the order-r test (it is not in GT)."""
    data = x.to_bytes(FP_BYTES, "big") + bytes(GT_BYTES - FP_BYTES)
    return g.gt_from_bytes(data, check_subgroup=False)


def _cube_root_of_unity() -> int:
    return next(z for g in range(2, 100) if (z := pow(g, (P - 1) // 3, P)) != 1)


def _crafted_share(
    world: World, junk_a: GTElement, junk_b: GTElement
) -> tuple[ReEncryptionShare, int]:
    """An honest proof for node 1 with A and B multiplied by factors outside GT; and its w."""
    g, c1 = world.group, world.ciphertext.c1
    rekey = world.rekeys[0]
    rk, vk = rekey.share.rk, rekey.verification_key
    u = g.random_scalar()
    value = g.pairing(c1, rk)
    a, b = value**u * junk_a, vk**u * junk_b
    c = _challenge(CONTEXT, c1, 1, value, vk, a, b)
    response = rk * ((u + c) % g.order)
    return ReEncryptionShare(1, value, a, b, response), _check_weight(c, response)


def _accepted(world: World, share: ReEncryptionShare) -> bool:
    try:
        verify_share(world.group, share, world.vks[0], world.ciphertext.c1, CONTEXT)
    except VerificationError:
        return False
    return True


def test_factor_minus_one_in_both_commitments_passes_exactly_for_odd_w(world: World) -> None:
    g = world.group
    minus_one = _in_fp(g, P - 1)
    outcomes = set()
    for _ in range(24):
        share, w = _crafted_share(world, minus_one, minus_one)
        assert _accepted(world, share) == (w % 2 == 1)
        assert share.value == g.pairing(world.ciphertext.c1, world.rekeys[0].share.rk)
        outcomes.add(w % 2)
    assert outcomes == {0, 1}  # both branches seen (fails with probability 2^-23)


def test_factor_in_one_commitment_only_never_passes(world: World) -> None:
    minus_one = _in_fp(world.group, P - 1)
    for _ in range(8):
        share, _ = _crafted_share(world, minus_one, world.group.gt_one)
        assert not _accepted(world, share)
        share, w = _crafted_share(world, world.group.gt_one, minus_one)
        assert _accepted(world, share) == (w % 2 == 0)


def test_cube_roots_of_unity_cancel_exactly_when_w_is_one_mod_three(world: World) -> None:
    g = world.group
    zeta = _cube_root_of_unity()
    junk_a, junk_b = _in_fp(g, zeta), _in_fp(g, zeta * zeta % P)  # B's factor is 1/zeta
    seen = set()
    for _ in range(30):
        share, w = _crafted_share(world, junk_a, junk_b)
        assert _accepted(world, share) == (w % 3 == 1)
        seen.add(w % 3 == 1)
    assert seen == {True, False}


def test_batch_never_rejects_what_the_single_check_accepts(world: World) -> None:
    g, c1 = world.group, world.ciphertext.c1
    zeta = _cube_root_of_unity()
    junk_a, junk_b = _in_fp(g, zeta), _in_fp(g, zeta * zeta % P)
    crafted = next(
        share
        for share, w in (_crafted_share(world, junk_a, junk_b) for _ in range(200))
        if w % 3 == 1
    )
    honest = [reencryption_share(g, rk, c1, CONTEXT) for rk in world.rekeys[1:]]
    shares = [crafted, *honest]
    for _ in range(12):  # the random batch often rejects the crafted share, then falls back
        verified = verify_shares_batch(g, shares, world.vk_map(), c1, CONTEXT)
        assert [v.index for v in verified] == [1, 2, 3]
