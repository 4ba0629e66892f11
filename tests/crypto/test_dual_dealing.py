"""Dealing the domain key: a dealing rebuilt from its verification keys, and sealed shares."""

from __future__ import annotations

import pytest

from crypto.dual import (
    DomainKeyDealing,
    DomainSecretKey,
    SealedDomainShare,
    deal_domain_key,
    setup,
)
from crypto.errors import DecodeError, DecryptionError, ThresholdError, VerificationError
from crypto.groups import Group
from crypto.polynomial import lagrange_at_zero
from crypto.sealing import BoxSecretKey


def test_a_dealing_is_rebuilt_from_its_verification_keys(group: Group) -> None:
    params = setup(group)
    domain = DomainSecretKey.generate(params)
    dealing, _ = deal_domain_key(params, domain, 3, 5)
    keys = [dealing.verification_key(i) for i in range(1, 6)]
    rebuilt = DomainKeyDealing.from_verification_keys(params, 3, keys)
    assert rebuilt == dealing
    assert rebuilt.public_key == domain.public_key(params).pk2
    # Any t of the keys interpolate to pk_p2 in the exponent.
    chosen = [2, 4, 5]
    acc = group.g2_identity()
    for index, weight in zip(chosen, lagrange_at_zero(chosen, params.order), strict=True):
        acc = acc + keys[index - 1] * weight
    assert acc == domain.public_key(params).pk2


def test_keys_off_one_polynomial_are_refused_naming_the_node(group: Group) -> None:
    params = setup(group)
    dealing, _ = deal_domain_key(params, DomainSecretKey.generate(params), 2, 4)
    keys = [dealing.verification_key(i) for i in range(1, 5)]
    bent = [*keys[:3], keys[3] + params.gamma2]
    with pytest.raises(VerificationError, match="node 4"):
        DomainKeyDealing.from_verification_keys(params, 2, bent)
    # A wrong key among the first t moves the polynomial: the first later key is off it.
    with pytest.raises(VerificationError, match="node 3"):
        DomainKeyDealing.from_verification_keys(params, 2, [keys[0] + params.gamma2, *keys[1:]])
    with pytest.raises(ThresholdError):
        DomainKeyDealing.from_verification_keys(params, 5, keys)


def test_a_sealed_share_opens_only_for_its_node(group: Group) -> None:
    params = setup(group)
    dealing, shares = deal_domain_key(params, DomainSecretKey.generate(params), 2, 3)
    boxes = [BoxSecretKey.generate() for _ in range(3)]
    sealed = SealedDomainShare.seal_all(7, shares, [b.public_key for b in boxes])
    assert [(s.epoch, s.index) for s in sealed] == [(7, 1), (7, 2), (7, 3)]
    for item, box in zip(sealed, boxes, strict=True):
        assert SealedDomainShare.from_bytes(item.to_bytes()) == item
        opened = item.open(params, dealing, box)
        assert params.gamma2 * opened.sigma == dealing.verification_key(item.index)
    with pytest.raises(DecryptionError):
        sealed[0].open(params, dealing, boxes[1])
    # Node 2's box relabelled as node 3's: it opens with node 2's key but names the wrong node.
    relabelled = SealedDomainShare(7, 3, sealed[1].sealed)
    with pytest.raises(VerificationError, match="for node 2, not 3"):
        relabelled.open(params, dealing, boxes[1])
    # A share of another dealing does not match this one's VK_i.
    other, _ = deal_domain_key(params, DomainSecretKey.generate(params), 2, 3)
    with pytest.raises(VerificationError, match="does not match"):
        sealed[0].open(params, other, boxes[0])


def test_sealed_share_encoding_is_exact() -> None:
    item = SealedDomainShare(1, 2, b"\xaa\xbb")
    assert item.to_bytes().hex() == "2b01" "00000001" "0002" "00000002" "aabb"
    encoded = item.to_bytes()
    for bad in (encoded + b"\x00", encoded[:-1], b"\x2c" + encoded[1:], encoded[:8] + b"\x00\x00"):
        with pytest.raises(DecodeError):
            SealedDomainShare.from_bytes(bad)
    index_zero = bytes.fromhex("2b01" "00000001" "0000" "00000001") + b"x"
    with pytest.raises(DecodeError, match="index 0"):
        SealedDomainShare.from_bytes(index_zero)
    with pytest.raises(ThresholdError):
        SealedDomainShare(0, 1, b"")
