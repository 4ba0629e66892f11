"""Verifiable threshold proxy re-encryption (seed 002, corrected; DESIGN 3.2).

Flow: the owner encrypts metadata with :func:`encrypt_to_owner`; to share it, the owner makes a
:class:`Grant` for a requester; each node opens and checks its re-key share
(:func:`open_rekey_share`, :func:`verify_rekey_share`), computes a :class:`ReEncryptionShare`
per request, and anyone verifies shares (:func:`verify_share`, :func:`verify_shares_batch`);
t verified shares combine into a :class:`ReEncryptedCiphertext` the requester opens with
:func:`decrypt_reencrypted`.

Known limit (shared with every AFGH-style scheme): t colluding nodes together with the
requester B can derive a key that opens everything encrypted to the owner A, not only the
records A granted. The threshold raises the bar; it does not remove the collusion.
"""

from crypto.tpre.ciphertext import OwnerCiphertext, decrypt_as_owner, encrypt_to_owner
from crypto.tpre.combine import (
    ReEncryptedCiphertext,
    combine_shares,
    decrypt_reencrypted,
)
from crypto.tpre.grant import (
    Grant,
    ReKeyShare,
    VerifiedReKeyShare,
    make_grant,
    open_rekey_share,
    verification_keys,
    verify_rekey_share,
)
from crypto.tpre.keys import UserPublicKey, UserSecretKey, generate_user_key
from crypto.tpre.share import (
    ReEncryptionShare,
    VerifiedShare,
    own_reencryption_share,
    reencryption_share,
    verify_share,
    verify_shares_batch,
)

__all__ = [
    "Grant",
    "OwnerCiphertext",
    "ReEncryptedCiphertext",
    "ReEncryptionShare",
    "ReKeyShare",
    "UserPublicKey",
    "UserSecretKey",
    "VerifiedReKeyShare",
    "VerifiedShare",
    "combine_shares",
    "decrypt_as_owner",
    "decrypt_reencrypted",
    "encrypt_to_owner",
    "generate_user_key",
    "make_grant",
    "open_rekey_share",
    "own_reencryption_share",
    "reencryption_share",
    "verification_keys",
    "verify_rekey_share",
    "verify_share",
    "verify_shares_batch",
]
