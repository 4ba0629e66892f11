"""The domain key held t-of-n by the nodes: any t decrypt, t-1 do not, bad shares are caught."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import pytest

from crypto.dual import (
    DecryptionRequest,
    DecryptionShare,
    DeviceSecretKey,
    DomainKeyDealing,
    DomainKeyShare,
    DomainSecretKey,
    DualParams,
    ProofContext,
    VerifiedCiphertext,
    combine_decryption_shares,
    deal_domain_key,
    decryption_share,
    encrypt_dct,
    open_domain_key_share,
    own_decryption_share,
    reencrypt_ecl,
    rekey_gen,
    requester_decrypt,
    seal_domain_key_shares,
    setup,
    verify_ciphertext,
    verify_decryption_share,
    verify_decryption_shares,
    verify_domain_key_share,
)
from crypto.dual.dleq import DleqProof
from crypto.errors import DecodeError, DecryptionError, ThresholdError, VerificationError
from crypto.groups import Group
from crypto.sealing import BoxSecretKey


@dataclass
class World:
    params: DualParams
    device: DeviceSecretKey
    domain: DomainSecretKey
    dealing: DomainKeyDealing
    shares: list[DomainKeyShare]
    record: VerifiedCiphertext
    requester: int


RECORD_1 = ProofContext(b"rec-1", b"owner")
RECORD_2 = ProofContext(b"rec-2", b"owner")


def make_world(params: DualParams, threshold: int, total: int, data: bytes = b"ecg") -> World:
    device, domain = DeviceSecretKey.generate(params), DomainSecretKey.generate(params)
    dealing, shares = deal_domain_key(params, domain, threshold, total)
    sealed = encrypt_dct(params, device.public_key(params), data, b"rec-1", context=RECORD_1)
    normalized = reencrypt_ecl(params, sealed, rekey_gen(params, device, domain.public_key(params)))
    record = verify_ciphertext(params, normalized, RECORD_1)
    return World(params, device, domain, dealing, shares, record, params.random_scalar())


def request_for(
    world: World, secret: int | None = None, context: bytes = b"req-1"
) -> DecryptionRequest:
    d = world.requester if secret is None else secret
    return DecryptionRequest.create(world.params, world.record, world.params.g0 * d, context)


@pytest.fixture(scope="module")
def params(group: Group) -> DualParams:
    return setup(group)


@pytest.fixture(scope="module")
def world(params: DualParams) -> World:
    # Small on the slow reference backend, a realistic committee on mcl.
    return make_world(params, 2, 3) if params.group.name == "py_ecc" else make_world(params, 3, 5)


@pytest.fixture(scope="module")
def answers(world: World) -> list[DecryptionShare]:
    request = request_for(world)
    return [decryption_share(world.params, share, request) for share in world.shares]


def test_dealing_matches_the_domain_key(world: World) -> None:
    params = world.params
    assert world.dealing.public_key == world.domain.public_key(params).pk2
    for share in world.shares:
        verify_domain_key_share(params, world.dealing, share)
    bad = DomainKeyShare(1, world.shares[0].sigma + 1)
    with pytest.raises(VerificationError):
        verify_domain_key_share(params, world.dealing, bad)
    with pytest.raises(ThresholdError):
        world.dealing.verification_key(world.dealing.total + 1)


def test_own_share_is_what_a_peer_accepts(world: World) -> None:
    """The maker counts its share as verified without checking it: a peer's check passes."""
    request = request_for(world)
    own = own_decryption_share(world.params, world.shares[0], request)
    assert verify_decryption_share(world.params, world.dealing, request, own.share) == own


def test_any_t_shares_decrypt(world: World, answers: list[DecryptionShare]) -> None:
    params, t = world.params, world.dealing.threshold
    request = request_for(world)
    verified = [verify_decryption_share(params, world.dealing, request, a) for a in answers]
    subsets = list(itertools.combinations(verified, t))
    if params.group.name == "py_ecc":
        subsets = subsets[-1:]
    for subset in subsets:
        combined = combine_decryption_shares(params, world.dealing, list(subset))
        assert requester_decrypt(params, world.requester, request, combined, b"rec-1") == b"ecg"


def test_t_minus_one_shares_do_not_decrypt(world: World, answers: list[DecryptionShare]) -> None:
    params, dealing = world.params, world.dealing
    request = request_for(world)
    verified = [verify_decryption_share(params, dealing, request, a) for a in answers]
    few = verified[: dealing.threshold - 1]
    with pytest.raises(ThresholdError):
        combine_decryption_shares(params, dealing, few)
    # Interpolating t-1 shares as if the threshold were t-1 yields a wrong key, not the data.
    pretend = DomainKeyDealing(dealing.threshold - 1, dealing.total, dealing.commitments[:-1])
    combined = combine_decryption_shares(params, pretend, few)
    with pytest.raises(DecryptionError):
        requester_decrypt(params, world.requester, request, combined, b"rec-1")


def test_tampered_share_or_proof_is_caught(world: World, answers: list[DecryptionShare]) -> None:
    params, dealing = world.params, world.dealing
    request = request_for(world)
    first = answers[0]
    proof = first.proof
    forged = [
        replace(first, value=first.value * params.group.z),
        replace(
            first, proof=DleqProof(proof.commitment_g2, proof.commitment_gt, proof.response + 1)
        ),
        replace(
            first,
            proof=DleqProof(
                proof.commitment_g2 + params.gamma2, proof.commitment_gt, proof.response
            ),
        ),
        # Node 1's honest answer presented as node 2's.
        replace(first, index=2),
    ]
    for bad in forged:
        with pytest.raises(VerificationError, match=f"node {bad.index}"):
            verify_decryption_share(params, dealing, request, bad)
    # The batched check finds the bad one among good ones and keeps the rest.
    for bad in forged[:3]:
        check = verify_decryption_shares(params, dealing, request, [bad, *answers[1:]])
        assert check.rejected == (1,)
        assert [v.share.index for v in check.verified] == [a.index for a in answers[1:]]
    # Node 1's answer claimed by node 3 (the G2 side of the batch, through the commitments).
    stolen = replace(answers[0], index=3)
    check = verify_decryption_shares(params, dealing, request, [answers[1], stolen])
    assert check.rejected == (3,)


def test_batch_accepts_honest_shares(world: World, answers: list[DecryptionShare]) -> None:
    params, dealing = world.params, world.dealing
    request = request_for(world)
    check = verify_decryption_shares(params, dealing, request, answers)
    assert check.rejected == ()
    combined = combine_decryption_shares(params, dealing, check.verified)
    assert requester_decrypt(params, world.requester, request, combined, b"rec-1") == b"ecg"
    with pytest.raises(ThresholdError):
        verify_decryption_shares(params, dealing, request, [answers[0], answers[0]])
    assert verify_decryption_shares(params, dealing, request, []).verified == ()


def test_shares_are_bound_to_requester_and_context(
    world: World, answers: list[DecryptionShare]
) -> None:
    params, dealing = world.params, world.dealing
    other_context = request_for(world, context=b"req-2")
    with pytest.raises(VerificationError):
        verify_decryption_share(params, dealing, other_context, answers[0])
    intruder = params.random_scalar()
    intruder_request = request_for(world, secret=intruder)
    with pytest.raises(VerificationError):
        verify_decryption_share(params, dealing, intruder_request, answers[0])
    # Combined shares made for the requester are useless to anyone else.
    request = request_for(world)
    verified = [verify_decryption_share(params, dealing, request, a) for a in answers]
    combined = combine_decryption_shares(params, dealing, verified)
    with pytest.raises(DecryptionError):
        requester_decrypt(params, intruder, request, combined, b"rec-1")
    # Shares checked for two different requests never combine.
    fresh = decryption_share(params, world.shares[1], other_context)
    mixed = [verified[0], verify_decryption_share(params, dealing, other_context, fresh)]
    with pytest.raises(ThresholdError):
        combine_decryption_shares(params, dealing, mixed * dealing.threshold)


def test_old_domain_shares_fail_after_rekey_update(world: World) -> None:
    params = world.params
    new_domain = DomainSecretKey.generate(params)
    t, n = world.dealing.threshold, world.dealing.total
    new_dealing, _ = deal_domain_key(params, new_domain, t, n)
    sealed = encrypt_dct(
        params, world.device.public_key(params), b"later", b"rec-2", context=RECORD_2
    )
    updated = verify_ciphertext(
        params,
        reencrypt_ecl(
            params, sealed, rekey_gen(params, world.device, new_domain.public_key(params))
        ),
        RECORD_2,
    )
    request = DecryptionRequest.create(params, updated, params.g0 * world.requester, b"req-3")
    stale = [decryption_share(params, share, request) for share in world.shares[:t]]
    with pytest.raises(VerificationError):
        verify_decryption_share(params, new_dealing, request, stale[0])
    # Even counted against the old dealing, the old key cannot open the new record.
    verified = [verify_decryption_share(params, world.dealing, request, s) for s in stale]
    combined = combine_decryption_shares(params, world.dealing, verified)
    with pytest.raises(DecryptionError):
        requester_decrypt(params, world.requester, request, combined, b"rec-2")


def test_dealing_parameters_are_checked(params: DualParams) -> None:
    domain = DomainSecretKey.generate(params)
    for t, n in [(0, 3), (4, 3)]:
        with pytest.raises(ThresholdError):
            deal_domain_key(params, domain, t, n)


def test_one_of_one(mcl: Group) -> None:
    world = make_world(setup(mcl), 1, 1, b"solo")
    request = request_for(world)
    answer = decryption_share(world.params, world.shares[0], request)
    verified = verify_decryption_share(world.params, world.dealing, request, answer)
    combined = combine_decryption_shares(world.params, world.dealing, [verified])
    assert requester_decrypt(world.params, world.requester, request, combined, b"rec-1") == b"solo"


def test_encodings_round_trip(world: World, answers: list[DecryptionShare]) -> None:
    params = world.params
    assert DomainKeyDealing.from_bytes(params, world.dealing.to_bytes()) == world.dealing
    share = world.shares[0]
    again = DomainKeyShare.from_bytes(share.to_bytes())
    assert (again.index, again.sigma) == (share.index, share.sigma)
    assert str(share.sigma) not in repr(share)
    for answer in answers:
        assert DecryptionShare.from_bytes(params, answer.to_bytes()) == answer


def test_malformed_encodings_are_rejected(mcl: Group) -> None:
    world = make_world(setup(mcl), 2, 3)
    params = world.params
    dealing = world.dealing.to_bytes()
    answer = decryption_share(params, world.shares[0], request_for(world)).to_bytes()
    cases = [
        (lambda b: DomainKeyDealing.from_bytes(params, b), dealing[:-1]),
        (lambda b: DomainKeyDealing.from_bytes(params, b), dealing + b"\x00"),
        (
            lambda b: DomainKeyDealing.from_bytes(params, b),
            dealing[:2] + b"\x00\x03\x00\x02" + dealing[6:],
        ),
        (lambda b: DecryptionShare.from_bytes(params, b), answer[:-1]),
        (lambda b: DecryptionShare.from_bytes(params, b), answer[:2] + b"\x00\x00" + answer[4:]),
        (lambda b: DecryptionShare.from_bytes(params, b), answer[:4] + bytes(576) + answer[580:]),
        (DomainKeyShare.from_bytes, world.shares[0].to_bytes()[:-1]),
    ]
    for decode, data in cases:
        with pytest.raises(DecodeError):
            decode(data)


def test_shares_travel_in_sealed_boxes(mcl: Group) -> None:
    params = setup(mcl)
    domain = DomainSecretKey.generate(params)
    dealing, shares = deal_domain_key(params, domain, 2, 3)
    boxes = [BoxSecretKey.generate() for _ in range(3)]
    sealed = seal_domain_key_shares(shares, [b.public_key for b in boxes])
    for index, (blob, box) in enumerate(zip(sealed, boxes, strict=True), start=1):
        opened = open_domain_key_share(params, dealing, index, blob, box)
        assert (opened.index, opened.sigma) == (index, shares[index - 1].sigma)
    with pytest.raises(DecryptionError):
        open_domain_key_share(params, dealing, 1, sealed[0], boxes[1])
    # Node 2 handed node 1's box: the index inside gives it away.
    with pytest.raises(VerificationError):
        open_domain_key_share(params, dealing, 2, sealed[0], boxes[0])
    # A dealer that seals a share off its own commitments is caught by the node.
    forged = boxes[0].public_key.seal(DomainKeyShare(1, shares[0].sigma + 1).to_bytes())
    with pytest.raises(VerificationError):
        open_domain_key_share(params, dealing, 1, forged, boxes[0])
    with pytest.raises(ThresholdError):
        seal_domain_key_shares(shares, [b.public_key for b in boxes[:2]])
