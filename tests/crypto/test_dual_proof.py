"""The C1 proof of knowledge: encodings, what it binds, and the lambda attack it closes (issue 13).

Every test runs on both backends (py_ecc is the oracle); the property tests take fewer examples
on py_ecc.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.dual import (
    C1Proof,
    DecryptionRequest,
    DeviceCiphertext,
    DeviceSecretKey,
    DomainKeyDealing,
    DomainKeyShare,
    DomainSecretKey,
    DualParams,
    NormalizedCiphertext,
    ProofContext,
    VerifiedCiphertext,
    combine_decryption_shares,
    deal_domain_key,
    decrypt_with_domain_key,
    decryption_share,
    encrypt_dct,
    encrypt_to_domain,
    reencrypt_ecl,
    rekey_gen,
    requester_decrypt,
    setup,
    verify_ciphertext,
    verify_decryption_shares,
)
from crypto.dual.ciphertext import open_with_blinding
from crypto.dual.proof import C1_PROOF_BYTES, MAX_ID_BYTES, c1_proof_holds, prove_c1
from crypto.errors import DecodeError, DecryptionError, VerificationError
from crypto.groups import G1Element, G2Element, Group, GTElement
from crypto.groups.params import R
from crypto.groups.scalars import inv_mod
from crypto.polynomial import lagrange_at_zero

VICTIM = ProofContext(b"record-S" + bytes(24), b"victim-owner" + bytes(20))
ATTACKER = ProofContext(b"record-R" + bytes(24), b"attacker-owner" + bytes(18))
SECRET = b"victim's ECG, 2024-03-01"


@pytest.fixture(scope="module")
def params(group: Group) -> DualParams:
    return setup(group)


def _examples(params: DualParams, mcl: int) -> int:
    return mcl if params.group.name == "mcl" else 2


def _statement(params: DualParams, r: int) -> tuple[GTElement, G2Element]:
    return params.group.z_pow(params.random_scalar()) * params.i0**r, params.gamma2 * r


def test_proof_round_trips_and_holds(params: DualParams) -> None:
    @settings(max_examples=_examples(params, 20))
    @given(
        st.integers(1, R - 1),
        st.integers(0, R - 1),
        st.binary(min_size=1, max_size=MAX_ID_BYTES),
        st.binary(min_size=1, max_size=40),
        st.binary(max_size=40),
    )
    def check(r: int, nonce: int, record: bytes, owner: bytes, chain: bytes) -> None:
        context = ProofContext(record, owner, chain)
        c0, c1 = _statement(params, r)
        proof = prove_c1(params, r, c0, c1, context, nonce=nonce)
        encoded = proof.to_bytes()
        assert len(encoded) == C1_PROOF_BYTES
        assert C1Proof.from_bytes(params, encoded) == proof
        assert C1Proof.from_bytes(params, encoded).to_bytes() == encoded
        assert c1_proof_holds(params, proof, c0, c1, context)

    check()


def test_malformed_proofs_are_rejected(params: DualParams) -> None:
    c0, c1 = _statement(params, 5)
    good = prove_c1(params, 5, c0, c1, VICTIM).to_bytes()
    unreduced = good[:-32] + R.to_bytes(32, "big")
    off_curve = good[:2] + b"\xa0" + bytes(95) + good[98:]
    for data in [
        good[:-1],
        good + b"\x00",
        b"\x27" + good[1:],  # another type's tag
        good[:1] + b"\x09" + good[2:],  # unknown version
        unreduced,
        off_curve,
    ]:
        with pytest.raises(DecodeError):
            C1Proof.from_bytes(params, data)


def test_context_is_checked() -> None:
    for args in [(b"", b"owner"), (b"record", b"")]:
        with pytest.raises(ValueError, match="needs a record id and an owner id"):
            ProofContext(*args)
    with pytest.raises(ValueError, match="record_id longer"):
        ProofContext(bytes(MAX_ID_BYTES + 1), b"owner")
    with pytest.raises(ValueError, match="chain_id longer"):
        ProofContext(b"record", b"owner", bytes(MAX_ID_BYTES + 1))


@dataclass
class Domain:
    params: DualParams
    device: DeviceSecretKey
    secret: DomainSecretKey
    dealing: DomainKeyDealing
    shares: list[DomainKeyShare]


@pytest.fixture(scope="module")
def domain(params: DualParams) -> Domain:
    secret = DomainSecretKey.generate(params)
    dealing, shares = deal_domain_key(params, secret, 2, 3)
    return Domain(params, DeviceSecretKey.generate(params), secret, dealing, shares)


def _record(domain: Domain, data: bytes, context: ProofContext) -> NormalizedCiphertext:
    params, device = domain.params, domain.device
    sealed = encrypt_dct(
        params, device.public_key(params), data, context.record_id, context=context
    )
    rekey = rekey_gen(params, device, domain.secret.public_key(params))
    return reencrypt_ecl(params, sealed, rekey)


def test_proof_binds_record_owner_chain_and_ciphertext(domain: Domain) -> None:
    params = domain.params
    record = _record(domain, SECRET, VICTIM)
    assert verify_ciphertext(params, record, VICTIM) == VerifiedCiphertext(record, VICTIM)
    for other in [
        replace(VICTIM, record_id=ATTACKER.record_id),
        replace(VICTIM, owner_id=ATTACKER.owner_id),
        replace(VICTIM, chain_id=b"another network"),
    ]:
        with pytest.raises(VerificationError, match="C1 proof"):
            verify_ciphertext(params, record, other)
    other_record = _record(domain, SECRET, VICTIM)
    proof = record.proof
    for bad in [
        replace(record, c0=other_record.c0),  # the proof names C0 as well as C1
        replace(record, c1=other_record.c1),
        replace(record, proof=other_record.proof),
        replace(record, proof=C1Proof(proof.commitment, (proof.response + 1) % R)),
        replace(record, proof=C1Proof(proof.commitment + params.gamma2, proof.response)),
    ]:
        with pytest.raises(VerificationError):
            verify_ciphertext(params, bad, VICTIM)
    # r = 0 would leave m in C0 as it is: refused even with an honest proof of r = 0.
    zero_c1 = params.group.g2_identity()
    zero = replace(record, c1=zero_c1, proof=prove_c1(params, 0, record.c0, zero_c1, VICTIM))
    with pytest.raises(VerificationError, match="identity"):
        verify_ciphertext(params, zero, VICTIM)


def test_proof_carries_over_reencryption(domain: Domain) -> None:
    # ReEncrypt_ECL keeps C0 and C1, so the device's proof is the normalized one's, unchanged.
    params, device = domain.params, domain.device
    sealed = encrypt_dct(params, device.public_key(params), b"bp 120/80", context=VICTIM)
    assert c1_proof_holds(params, sealed.proof, sealed.c0, sealed.c1, VICTIM)
    normalized = reencrypt_ecl(
        params, sealed, rekey_gen(params, device, domain.secret.public_key(params))
    )
    assert normalized.proof == sealed.proof
    verify_ciphertext(params, normalized, VICTIM)
    assert decrypt_with_domain_key(params, domain.secret, normalized) == b"bp 120/80"
    # The proof survives both encodings too.
    assert DeviceCiphertext.from_bytes(params, sealed.to_bytes()).proof == sealed.proof
    moved = NormalizedCiphertext.from_bytes(params, normalized.to_bytes())
    verify_ciphertext(params, moved, VICTIM)
    # A damaged embedded proof is a decoding error, not a silent pass.
    encoded = normalized.to_bytes()
    response_at = (2 + 576 + 96 + 576) + 2 + 96
    unreduced = encoded[:response_at] + b"\xff" * 32 + encoded[response_at + 32 :]
    with pytest.raises(DecodeError, match="reduced"):
        NormalizedCiphertext.from_bytes(params, unreduced)


def test_encrypt_to_domain(domain: Domain) -> None:
    params = domain.params
    record = encrypt_to_domain(params, domain.dealing.public_key, b"K_pre", b"ad", context=VICTIM)
    assert decrypt_with_domain_key(params, domain.secret, record, b"ad") == b"K_pre"
    verified = verify_ciphertext(params, record, VICTIM)
    d = params.random_scalar()
    request = DecryptionRequest.create(params, verified, params.g0 * d, b"request-1")
    answers = [decryption_share(params, s, request) for s in domain.shares]
    check = verify_decryption_shares(params, domain.dealing, request, answers)
    combined = combine_decryption_shares(params, domain.dealing, check.verified)
    assert requester_decrypt(params, d, request, combined, b"ad") == b"K_pre"
    with pytest.raises(VerificationError):
        encrypt_to_domain(params, params.group.g2_identity(), b"x", context=VICTIM)


# The lambda attack (issue 13, DESIGN 3.3).


def _old_decryption_share(
    params: DualParams, share: DomainKeyShare, requester: G1Element, c1: G2Element
) -> GTElement:
    """What a node computed before the fix for any C1' a request named: e(X1_D, C1')^sigma_i
    (its Chaum-Pedersen proof left out: it proves the share honest, not the C1' legitimate)."""
    return params.group.pairing(requester, c1) ** share.sigma


def _old_combine(params: DualParams, answers: dict[int, GTElement]) -> GTElement:
    coefficients = lagrange_at_zero(list(answers), params.order)
    combined = params.group.gt_one
    for value, coefficient in zip(answers.values(), coefficients, strict=True):
        combined = combined * value**coefficient
    return combined


def test_lambda_attack_worked_on_the_unchecked_path(domain: Domain) -> None:
    params = domain.params
    victim = _record(domain, SECRET, VICTIM)
    d = params.random_scalar()  # the attacker, a member authorized for its own record R
    lam = params.random_scalar()
    mauled_c1 = victim.c1 * lam  # C1'_R = C1'_S^lambda, published as record R
    answers = {
        share.index: _old_decryption_share(params, share, params.g0 * d, mauled_c1)
        for share in domain.shares[: domain.dealing.threshold]
    }
    blinding = _old_combine(params, answers) ** inv_mod(d * lam % params.order, params.order)
    assert open_with_blinding(victim, blinding, VICTIM.record_id) == SECRET


def test_lambda_attack_is_refused(domain: Domain) -> None:
    params = domain.params
    victim = _record(domain, SECRET, VICTIM)
    own = _record(domain, b"attacker's own record", ATTACKER)
    lam = params.random_scalar()
    mauled_c1 = victim.c1 * lam
    scaled = C1Proof(victim.proof.commitment * lam, victim.proof.response * lam % R)
    attempts = [
        # The mauled C1 with every proof the attacker can lay hands on.
        replace(own, c1=mauled_c1),
        replace(own, c1=mauled_c1, proof=victim.proof),
        replace(own, c1=mauled_c1, proof=scaled),
        replace(victim, c1=mauled_c1, proof=scaled),
        # No mauling at all: the victim's ciphertext and proof republished as R.
        victim,
    ]
    for forged in attempts:
        for context in (ATTACKER, replace(VICTIM, owner_id=ATTACKER.owner_id)):
            with pytest.raises(VerificationError):
                verify_ciphertext(params, forged, context)
    # Nor can an unverified ciphertext reach the nodes' share step.
    unchecked = replace(own, c1=mauled_c1)
    with pytest.raises(TypeError, match="VerifiedCiphertext"):
        DecryptionRequest.create(params, unchecked, params.g0 * 7, b"req")  # type: ignore[arg-type]
    # What the attacker can still get, shares for its own verified record R, opens R only.
    d = params.random_scalar()
    request = DecryptionRequest.create(
        params, verify_ciphertext(params, own, ATTACKER), params.g0 * d, b"req"
    )
    answers = [decryption_share(params, s, request) for s in domain.shares]
    check = verify_decryption_shares(params, domain.dealing, request, answers)
    combined = combine_decryption_shares(params, domain.dealing, check.verified)
    assert requester_decrypt(params, d, request, combined, ATTACKER.record_id) == (
        b"attacker's own record"
    )
    blinding = combined ** inv_mod(d * lam % params.order, params.order)
    with pytest.raises(DecryptionError):
        open_with_blinding(victim, blinding, VICTIM.record_id)
