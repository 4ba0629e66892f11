"""Hash tags and key-derivation labels of the lightweight profile, one per use.

Each seed-001 hash ``h(a || b || ...)`` becomes ``digest(tag, a, b, ...)`` with its own tag, so
no two uses can ever be confused and no input boundary is ambiguous.
"""

from __future__ import annotations

from typing import Final

USER_PSEUDONYM: Final = b"iomtshare/light/user-pseudonym/v1"
USER_IDENTITY: Final = b"iomtshare/light/user-identity/v1"
WARRANT: Final = b"iomtshare/light/warrant/v1"
TEMPORARY_ID: Final = b"iomtshare/light/temporary-id/v1"
PATIENT_KEY: Final = b"iomtshare/light/patient-key/v1"
MASK: Final = b"iomtshare/light/mask/v1"
ALPHA: Final = b"iomtshare/light/alpha/v1"
BETA: Final = b"iomtshare/light/beta/v1"
ACCESS_PROOF: Final = b"iomtshare/light/access-proof/v1"
KEY_REQUEST_MAC: Final = b"iomtshare/light/key-request/v1"
SCHNORR: Final = b"iomtshare/light/schnorr/v1"
SCHNORR_NONCE: Final = b"iomtshare/light/schnorr-nonce/v1"
REPLAY_ID: Final = b"iomtshare/light/replay-id/v1"

# HKDF labels (crypto.kdf.derive_key).
KDF_IDENTITY_BOX: Final = b"iomtshare/light/kdf/identity-box/v1"
KDF_PATIENT_GRANT: Final = b"iomtshare/light/kdf/patient-grant/v1"
KDF_KEY_RESPONSE: Final = b"iomtshare/light/kdf/key-response/v1"
KDF_DATA_KEY: Final = b"iomtshare/light/kdf/data-key/v1"
