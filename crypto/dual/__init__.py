"""Seed 000's dual scheme on BLS12-381, with the domain key held t-of-n by the consensus nodes.

Devices encrypt under their own keys (:func:`encrypt_dct`), the edge normalizes ciphertexts to
one domain key (:func:`reencrypt_ecl`), and requesters decrypt through threshold shares of the
domain key (:mod:`crypto.dual.threshold`) instead of receiving the domain secret itself.
Every ciphertext proves its maker knows its randomness, bound to its record
(:mod:`crypto.dual.proof`); only :func:`verify_ciphertext` lets one reach the nodes' shares.
"""

from crypto.dual.ciphertext import (
    DeviceCiphertext,
    NormalizedCiphertext,
    VerifiedCiphertext,
    decrypt_with_domain_key,
    encrypt_dct,
    encrypt_to_domain,
    reencrypt_ecl,
    verify_ciphertext,
)
from crypto.dual.dealing import (
    DomainKeyDealing,
    DomainKeyShare,
    SealedDomainShare,
    deal_domain_key,
    open_domain_key_share,
    seal_domain_key_shares,
    verify_domain_key_share,
)
from crypto.dual.device_signature import DeviceSignature
from crypto.dual.keys import (
    DevicePublicKey,
    DeviceSecretKey,
    DomainPublicKey,
    DomainSecretKey,
    ReKey,
    rekey_gen,
    rekey_update,
    verify_rekey,
)
from crypto.dual.params import DualParams, setup
from crypto.dual.proof import C1Proof, ProofContext
from crypto.dual.threshold import (
    DecryptionRequest,
    DecryptionShare,
    ShareCheck,
    VerifiedDecryptionShare,
    combine_decryption_shares,
    decryption_share,
    own_decryption_share,
    requester_decrypt,
    verify_decryption_share,
    verify_decryption_shares,
)

__all__ = [
    "C1Proof",
    "DecryptionRequest",
    "DecryptionShare",
    "DeviceCiphertext",
    "DevicePublicKey",
    "DeviceSecretKey",
    "DeviceSignature",
    "DomainKeyDealing",
    "DomainKeyShare",
    "DomainPublicKey",
    "DomainSecretKey",
    "DualParams",
    "NormalizedCiphertext",
    "ProofContext",
    "ReKey",
    "SealedDomainShare",
    "ShareCheck",
    "VerifiedCiphertext",
    "VerifiedDecryptionShare",
    "combine_decryption_shares",
    "deal_domain_key",
    "decrypt_with_domain_key",
    "decryption_share",
    "encrypt_dct",
    "encrypt_to_domain",
    "open_domain_key_share",
    "own_decryption_share",
    "reencrypt_ecl",
    "rekey_gen",
    "rekey_update",
    "requester_decrypt",
    "seal_domain_key_shares",
    "setup",
    "verify_ciphertext",
    "verify_decryption_share",
    "verify_decryption_shares",
    "verify_domain_key_share",
    "verify_rekey",
]
