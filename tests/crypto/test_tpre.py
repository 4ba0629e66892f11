"""Threshold PRE: correctness, thresholds, and every way a share, grant or key can be wrong.

The scenario tests run on both backends; the property tests draw many cases on mcl only, since a
py_ecc pairing costs a tenth of a second.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError, DecryptionError, ThresholdError, VerificationError
from crypto.groups import Group
from crypto.groups.params import GT_BYTES
from crypto.tpre import (
    ReEncryptionShare,
    ReKeyShare,
    combine_shares,
    decrypt_as_owner,
    decrypt_reencrypted,
    generate_user_key,
    open_rekey_share,
    own_reencryption_share,
    reencryption_share,
    verify_rekey_share,
    verify_share,
    verify_shares_batch,
)
from tests.crypto.tpre_helpers import World, make_world


@pytest.fixture(scope="module")
def world(group: Group) -> World:
    return make_world(group, threshold=2, n=3, plaintext=b"DEK || digest || commitments")


def _verified(world: World, context: bytes) -> list:
    g, c1 = world.group, world.ciphertext.c1
    return [verify_share(g, s, world.vks[s.index - 1], c1, context) for s in world.shares(context)]


def test_owner_decrypts(world: World) -> None:
    assert decrypt_as_owner(world.owner, world.ciphertext) == world.plaintext


def test_owner_decrypt_with_wrong_key_fails(world: World) -> None:
    with pytest.raises(DecryptionError):
        decrypt_as_owner(generate_user_key(world.group), world.ciphertext)


def test_every_t_subset_decrypts_and_fewer_do_not(world: World) -> None:
    verified = _verified(world, b"request-1")
    for subset in itertools.combinations(verified, 2):
        rct = combine_shares(world.group, world.ciphertext, subset, 2)
        assert decrypt_reencrypted(world.requester, rct) == world.plaintext
    for single in verified:
        with pytest.raises(ThresholdError):
            combine_shares(world.group, world.ciphertext, [single], 2)
        # Interpolating a lone share as if t were 1 gives the wrong alpha.
        rct = combine_shares(world.group, world.ciphertext, [single], 1)
        with pytest.raises(DecryptionError):
            decrypt_reencrypted(world.requester, rct)


def test_wrong_requester_key_fails(world: World) -> None:
    rct = combine_shares(world.group, world.ciphertext, _verified(world, b"r")[:2], 2)
    with pytest.raises(DecryptionError):
        decrypt_reencrypted(generate_user_key(world.group), rct)
    with pytest.raises(DecryptionError):
        decrypt_reencrypted(world.owner, rct)


def test_share_bound_to_request_and_index(world: World) -> None:
    g, c1 = world.group, world.ciphertext.c1
    share = world.shares(b"request-A")[0]
    verify_share(g, share, world.vks[0], c1, b"request-A")
    with pytest.raises(VerificationError):
        verify_share(g, share, world.vks[0], c1, b"request-B")
    with pytest.raises(VerificationError):
        verify_share(g, replace(share, index=2), world.vks[1], c1, b"request-A")
    with pytest.raises(VerificationError):
        verify_share(g, share, world.vks[1], c1, b"request-A")


def test_tampered_share_or_proof_fails(world: World) -> None:
    g, c1 = world.group, world.ciphertext.c1
    share = world.shares(b"req")[1]
    vk = world.vks[1]
    tampered = [
        replace(share, value=share.value * g.z),
        replace(share, challenge=share.challenge ^ 1),
        replace(share, challenge=0),
        replace(share, response=share.response + g.g2),
    ]
    for bad in tampered:
        with pytest.raises(VerificationError):
            verify_share(g, bad, vk, c1, b"req")


def test_values_outside_gt_do_not_decode(world: World) -> None:
    raw = world.shares(b"sub")[0].to_bytes()
    outside = (2).to_bytes(48, "big") + bytes(GT_BYTES - 48)  # 2 in Fp12: not of order r
    start = 4  # after header and index: s_i
    forged = raw[:start] + outside + raw[start + GT_BYTES :]
    with pytest.raises(DecodeError, match="order-r"):
        ReEncryptionShare.from_bytes(world.group, forged)


def test_batch_verification_accepts_good_and_names_bad(world: World) -> None:
    g, c1 = world.group, world.ciphertext.c1
    shares = world.shares(b"batch")
    assert [v.index for v in verify_shares_batch(g, shares, world.vk_map(), c1, b"batch")] == [
        1,
        2,
        3,
    ]
    shares[2] = replace(shares[2], value=shares[2].value * g.z)
    with pytest.raises(VerificationError, match=r"\[3\]"):
        verify_shares_batch(g, shares, world.vk_map(), c1, b"batch")


def test_inconsistent_rekey_share_is_caught(world: World) -> None:
    g = world.group
    share = open_rekey_share(g, world.grant, 2, world.node_keys[1])
    with pytest.raises(VerificationError):
        verify_rekey_share(g, ReKeyShare(2, share.rk + g.g2), world.vks[1])
    with pytest.raises(VerificationError):
        verify_rekey_share(g, share, world.vks[0])


def test_identity_rekey_share_is_refused(world: World) -> None:
    g = world.group
    with pytest.raises(VerificationError, match="identity"):
        verify_rekey_share(g, ReKeyShare(2, g.g2_identity()), g.gt_one)


def test_accepted_rekey_share_is_prepared_for_pairing(world: World) -> None:
    g, c1 = world.group, world.ciphertext.c1
    rekey = world.rekeys[1]
    assert rekey.prepared_rk.point == rekey.share.rk
    assert rekey.prepared_rk.pairing(c1) == g.pairing(c1, rekey.share.rk)
    assert "rk=<hidden>" in repr(rekey)
    assert "prepared_rk" not in repr(rekey)


def test_share_value_and_proof_equations(world: World) -> None:
    """Both ways of drawing the proof's T give s_i = e(C1, rk_i) and the verifier's equations."""
    g, c1 = world.group, world.ciphertext.c1
    rekey = world.rekeys[0]
    for c1_pairing in (None, g.pairing(c1, g.g2)):
        share = reencryption_share(g, rekey, c1, b"eq", c1_pairing)
        assert share.value == g.pairing(c1, rekey.share.rk)
        verify_share(g, share, world.vks[0], c1, b"eq")


def test_own_share_is_what_a_peer_accepts(world: World) -> None:
    """The maker counts its share as verified without checking it: a peer's check passes."""
    g, c1 = world.group, world.ciphertext.c1
    own = own_reencryption_share(g, world.rekeys[1], c1, b"own", g.pairing(c1, g.g2))
    assert own.index == world.rekeys[1].index
    assert verify_share(g, own.share, world.vks[1], c1, b"own") == own


def test_node_cannot_open_another_nodes_share(world: World) -> None:
    with pytest.raises(DecryptionError):
        open_rekey_share(world.group, world.grant, 1, world.node_keys[2])


def test_public_keys_validate(world: World) -> None:
    g = world.group
    pk = world.requester.public_key()
    pk.validate(g)
    with pytest.raises(VerificationError):
        replace(pk, w=pk.w + g.g1).validate(g)
    with pytest.raises(VerificationError):
        replace(pk, x2=pk.x2 + g.g2).validate(g)


# --- properties, mcl only -------------------------------------------------------------------


@settings(max_examples=12)
@given(data=st.data())
def test_any_t_of_n_decrypts(mcl: Group, data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=7), label="n")
    t = data.draw(st.integers(min_value=1, max_value=n), label="t")
    world = make_world(mcl, t, n, data.draw(st.binary(max_size=300), label="plaintext"))
    context = data.draw(st.binary(min_size=1, max_size=40), label="context")
    verified = verify_shares_batch(
        mcl, world.shares(context), world.vk_map(), world.ciphertext.c1, context
    )
    subset = data.draw(st.lists(st.sampled_from(verified), min_size=t, max_size=t, unique=True))
    rct = combine_shares(mcl, world.ciphertext, subset, t)
    assert decrypt_reencrypted(world.requester, rct) == world.plaintext
    if t > 1:
        short = subset[: t - 1]
        with pytest.raises(ThresholdError):
            combine_shares(mcl, world.ciphertext, short, t)
        partial = combine_shares(mcl, world.ciphertext, short, t - 1)
        with pytest.raises(DecryptionError):
            decrypt_reencrypted(world.requester, partial)


@settings(max_examples=8)
@given(data=st.data())
def test_shares_of_another_grant_or_ciphertext_fail(mcl: Group, data: st.DataObject) -> None:
    first = make_world(mcl, 2, 3)
    second = make_world(mcl, 2, 3)
    index = data.draw(st.integers(min_value=1, max_value=3))
    share = second.shares(b"ctx")[index - 1]
    with pytest.raises(VerificationError):
        verify_share(mcl, share, first.vks[index - 1], first.ciphertext.c1, b"ctx")
    with pytest.raises(VerificationError):
        verify_share(mcl, share, second.vks[index - 1], first.ciphertext.c1, b"ctx")


def test_prepared_pairing_gives_a_valid_share(mcl: Group) -> None:
    world = make_world(mcl, 2, 3)
    c1 = world.ciphertext.c1
    share = reencryption_share(mcl, world.rekeys[0], c1, b"x", mcl.pairing(c1, mcl.g2))
    verify_share(mcl, share, world.vks[0], c1, b"x")
