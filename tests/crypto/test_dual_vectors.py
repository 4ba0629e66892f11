"""Stored test vectors for the dual scheme, replayed on both backends.

Regenerate with ``IOMTSHARE_REGEN_VECTORS=1 pytest tests/crypto/test_dual_vectors.py`` (uses
mcl); encryption is randomized, so the vectors fix its output and the replay checks everything
that is deterministic from there: key derivation, re-encryption, decryption, share proofs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from crypto.dual import (
    DecryptionRequest,
    DecryptionShare,
    DeviceCiphertext,
    DeviceSecretKey,
    DomainKeyDealing,
    DomainKeyShare,
    DomainSecretKey,
    NormalizedCiphertext,
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
    verify_decryption_shares,
    verify_domain_key_share,
)
from crypto.groups import Group, load_group
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "dual_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"


def _generate() -> dict[str, object]:
    params = setup(load_group("mcl"))
    device, domain = DeviceSecretKey.generate(params), DomainSecretKey.generate(params)
    plaintext, associated, context = b"heart rate 72 bpm", b"record-42", b"request-7"
    sealed = encrypt_dct(params, device.public_key(params), plaintext, associated)
    rekey = rekey_gen(params, device, domain.public_key(params))
    normalized = reencrypt_ecl(params, sealed, rekey)
    dealing, shares = deal_domain_key(params, domain, 2, 3)
    requester = params.random_scalar()
    request = DecryptionRequest.create(params, normalized, params.g0 * requester, context)
    answers = [decryption_share(params, s, request) for s in shares]
    return {
        "gammas_hex": [bytes(g).hex() for g in (params.gamma1, params.gamma2, params.gamma3)],
        "device_secret_hex": device.to_bytes().hex(),
        "domain_secret_hex": domain.to_bytes().hex(),
        "device_public_hex": device.public_key(params).to_bytes().hex(),
        "domain_public_hex": domain.public_key(params).to_bytes().hex(),
        "rekey_hex": rekey.to_bytes().hex(),
        "plaintext_hex": plaintext.hex(),
        "associated_hex": associated.hex(),
        "device_ciphertext_hex": sealed.to_bytes().hex(),
        "normalized_ciphertext_hex": normalized.to_bytes().hex(),
        "dealing_hex": dealing.to_bytes().hex(),
        "domain_shares_hex": [s.to_bytes().hex() for s in shares],
        "requester_secret_hex": scalar_to_bytes(requester).hex(),
        "context_hex": context.hex(),
        "decryption_shares_hex": [a.to_bytes().hex() for a in answers],
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
    assert decrypt_with_domain_key(params, domain, normalized, associated) == plaintext
    dealing = DomainKeyDealing.from_bytes(params, h(v["dealing_hex"]))
    for share_hex in v["domain_shares_hex"]:
        verify_domain_key_share(params, dealing, DomainKeyShare.from_bytes(h(share_hex)))
    requester = scalar_from_bytes(h(v["requester_secret_hex"]))
    request = DecryptionRequest.create(
        params, normalized, params.g0 * requester, h(v["context_hex"])
    )
    answers = [DecryptionShare.from_bytes(params, h(x)) for x in v["decryption_shares_hex"]]
    check = verify_decryption_shares(params, dealing, request, answers[1:])
    assert check.rejected == ()
    combined = combine_decryption_shares(params, dealing, check.verified)
    assert requester_decrypt(params, requester, request, combined, associated) == plaintext
