"""Stored test vectors for the dual scheme, replayed on both backends.

Regenerate with ``IOMTSHARE_REGEN_VECTORS=1 pytest tests/crypto/test_dual_vectors.py`` (uses
mcl); encryption is randomized, so the vectors fix its output and the replay checks everything
that is deterministic from there: key derivation, re-encryption, decryption, share proofs, and
the ciphertext's C1 proof. One C1 proof is fully deterministic (fixed ``r``, nonce and ``m``), so
its bytes are compared exactly: the challenge hash and encodings agree on both backends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from crypto.dual import (
    C1Proof,
    DecryptionRequest,
    DecryptionShare,
    DeviceCiphertext,
    DeviceSecretKey,
    DomainKeyDealing,
    DomainKeyShare,
    DomainSecretKey,
    NormalizedCiphertext,
    ProofContext,
    ReKey,
    combine_decryption_shares,
    deal_domain_key,
    decrypt_with_domain_key,
    decryption_share,
    encrypt_dct,
    reencrypt_ecl,
    rekey_gen,
    requester_decrypt,
    setup,
    verify_ciphertext,
    verify_decryption_shares,
    verify_domain_key_share,
)
from crypto.dual.params import DualParams
from crypto.dual.proof import c1_proof_holds, prove_c1
from crypto.groups import Group, load_group
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "dual_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"

# The deterministic C1 proof: r, the proof nonce k and the exponent of m (m = Z^e).
PROOF_R = 0x1D2C3B4A5968778695A4B3C2D1E0F0E1D2C3B4A5968778695A4B3C2D1E0F0E1
PROOF_NONCE = 0x0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F
PROOF_M_EXPONENT = 0x2468ACE13579BDF02468ACE13579BDF02468ACE13579BDF02468ACE13579BDF
PROOF_CONTEXT = ProofContext(bytes(range(32)), bytes(range(32, 64)), b"iomtshare-test-chain")


def _context_json(context: ProofContext) -> dict[str, str]:
    return {
        "record_id_hex": context.record_id.hex(),
        "owner_id_hex": context.owner_id.hex(),
        "chain_id_hex": context.chain_id.hex(),
    }


def _context_from(v: dict[str, str]) -> ProofContext:
    h = bytes.fromhex
    return ProofContext(h(v["record_id_hex"]), h(v["owner_id_hex"]), h(v["chain_id_hex"]))


def _fixed_proof(params: DualParams) -> tuple[bytes, bytes, C1Proof]:
    c0 = params.group.z_pow(PROOF_M_EXPONENT) * params.i0**PROOF_R
    c1 = params.gamma2 * PROOF_R
    proof = prove_c1(params, PROOF_R, c0, c1, PROOF_CONTEXT, nonce=PROOF_NONCE)
    return bytes(c0), bytes(c1), proof


def _generate() -> dict[str, object]:
    params = setup(load_group("mcl"))
    device, domain = DeviceSecretKey.generate(params), DomainSecretKey.generate(params)
    plaintext, associated, context = b"heart rate 72 bpm", b"record-42", b"request-7"
    record = ProofContext(b"record-42", b"owner-9", b"chain-1")
    sealed = encrypt_dct(params, device.public_key(params), plaintext, associated, context=record)
    rekey = rekey_gen(params, device, domain.public_key(params))
    normalized = reencrypt_ecl(params, sealed, rekey)
    dealing, shares = deal_domain_key(params, domain, 2, 3)
    requester = params.random_scalar()
    verified = verify_ciphertext(params, normalized, record)
    request = DecryptionRequest.create(params, verified, params.g0 * requester, context)
    answers = [decryption_share(params, s, request) for s in shares]
    c0, c1, proof = _fixed_proof(params)
    return {
        "gammas_hex": [bytes(g).hex() for g in (params.gamma1, params.gamma2, params.gamma3)],
        "device_secret_hex": device.to_bytes().hex(),
        "domain_secret_hex": domain.to_bytes().hex(),
        "device_public_hex": device.public_key(params).to_bytes().hex(),
        "domain_public_hex": domain.public_key(params).to_bytes().hex(),
        "rekey_hex": rekey.to_bytes().hex(),
        "plaintext_hex": plaintext.hex(),
        "associated_hex": associated.hex(),
        "proof_context": _context_json(record),
        "device_ciphertext_hex": sealed.to_bytes().hex(),
        "normalized_ciphertext_hex": normalized.to_bytes().hex(),
        "dealing_hex": dealing.to_bytes().hex(),
        "domain_shares_hex": [s.to_bytes().hex() for s in shares],
        "requester_secret_hex": scalar_to_bytes(requester).hex(),
        "context_hex": context.hex(),
        "decryption_shares_hex": [a.to_bytes().hex() for a in answers],
        "c1_proof": {
            "r_hex": hex(PROOF_R),
            "nonce_hex": hex(PROOF_NONCE),
            "m_exponent_hex": hex(PROOF_M_EXPONENT),
            "context": _context_json(PROOF_CONTEXT),
            "c0_hex": c0.hex(),
            "c1_hex": c1.hex(),
            "proof_hex": proof.to_bytes().hex(),
        },
    }


def test_replay_dual_vectors(group: Group) -> None:
    if REGENERATE and group.name == "mcl":
        VECTORS.write_text(json.dumps(_generate(), indent=2) + "\n")
    v = json.loads(VECTORS.read_text())
    params = setup(group)
    h = bytes.fromhex
    assert [bytes(g).hex() for g in (params.gamma1, params.gamma2, params.gamma3)] == v[
        "gammas_hex"
    ]
    device = DeviceSecretKey.from_bytes(h(v["device_secret_hex"]))
    domain = DomainSecretKey.from_bytes(h(v["domain_secret_hex"]))
    assert device.public_key(params).to_bytes().hex() == v["device_public_hex"]
    assert domain.public_key(params).to_bytes().hex() == v["domain_public_hex"]
    rekey = rekey_gen(params, device, domain.public_key(params))
    assert rekey == ReKey.from_bytes(params, h(v["rekey_hex"]))
    sealed = DeviceCiphertext.from_bytes(params, h(v["device_ciphertext_hex"]))
    normalized = reencrypt_ecl(params, sealed, rekey)
    assert normalized.to_bytes().hex() == v["normalized_ciphertext_hex"]
    assert NormalizedCiphertext.from_bytes(params, normalized.to_bytes()) == normalized
    plaintext, associated = h(v["plaintext_hex"]), h(v["associated_hex"])
    record = _context_from(v["proof_context"])
    assert normalized.proof == sealed.proof  # ReEncrypt_ECL passes the device's proof on
    verified = verify_ciphertext(params, normalized, record)
    assert decrypt_with_domain_key(params, domain, normalized, associated) == plaintext
    dealing = DomainKeyDealing.from_bytes(params, h(v["dealing_hex"]))
    for share_hex in v["domain_shares_hex"]:
        verify_domain_key_share(params, dealing, DomainKeyShare.from_bytes(h(share_hex)))
    requester = scalar_from_bytes(h(v["requester_secret_hex"]))
    request = DecryptionRequest.create(params, verified, params.g0 * requester, h(v["context_hex"]))
    answers = [DecryptionShare.from_bytes(params, h(x)) for x in v["decryption_shares_hex"]]
    check = verify_decryption_shares(params, dealing, request, answers[1:])
    assert check.rejected == ()
    combined = combine_decryption_shares(params, dealing, check.verified)
    assert requester_decrypt(params, requester, request, combined, associated) == plaintext


def test_replay_c1_proof_vector(group: Group) -> None:
    v = json.loads(VECTORS.read_text())["c1_proof"]
    params = setup(group)
    assert (int(v["r_hex"], 16), int(v["nonce_hex"], 16)) == (PROOF_R, PROOF_NONCE)
    assert int(v["m_exponent_hex"], 16) == PROOF_M_EXPONENT
    assert _context_from(v["context"]) == PROOF_CONTEXT
    c0, c1, proof = _fixed_proof(params)
    assert (c0.hex(), c1.hex()) == (v["c0_hex"], v["c1_hex"])
    assert proof.to_bytes().hex() == v["proof_hex"]
    stored = C1Proof.from_bytes(params, bytes.fromhex(v["proof_hex"]))
    assert stored == proof
    c0_el, c1_el = params.group.gt_from_bytes(c0), params.group.g2_from_bytes(c1)
    assert c1_proof_holds(params, stored, c0_el, c1_el, PROOF_CONTEXT)
