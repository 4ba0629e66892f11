"""The lightweight sharing profile of seed 001 on edwards25519, corrected.

For sensors too weak for pairings: only edwards25519 scalar multiplications (libsodium core
bindings), tagged hashes and XChaCha20-Poly1305. Parties and their steps:

* :class:`~crypto.light.authority.Authority` (seed 001's TA): setup, user registration with a
  time-bounded warrant, patient registration under a temporary identity, the decryption step.
* :mod:`crypto.light.patient`: registration and sensor encryption/upload.
* :class:`~crypto.light.edge.EdgeVerifier` (seed 001's CS): checks uploads and access requests.
* :mod:`crypto.light.user`: access and key requests, integrity check, decryption.
* :mod:`crypto.light.bridge`: the edge's conversion of an upload into the pairing pipeline.

Departures from the paper, each closing a hole in it: the warrant is proven (Schnorr), never
sent; AEAD replaces the XOR pad; check values are keyed with ``a_n`` instead of the real
identity, which never leaves the patient or the authority; ``a_n`` binds the temporary identity;
every party keeps a replay cache besides the timestamp window; the authority signs what it tells
edges (Ed25519) instead of sharing a MAC key with them.
"""

from crypto.light.authority import Authority
from crypto.light.edge import AuthorizedAccess, EdgeVerifier, VerifiedUpload
from crypto.light.errors import (
    AccessDeniedError,
    IntegrityError,
    LightError,
    ReplayError,
    StaleMessageError,
    WarrantError,
)
from crypto.light.exchange import AccessRequest, KeyRequest, KeyResponse, Upload
from crypto.light.freshness import FreshnessWindow, ReplayCache
from crypto.light.messages import (
    AuthorityPublic,
    PatientKey,
    PatientKeyGrant,
    PatientRecord,
    PatientRegistration,
    UserCredential,
    WarrantRecord,
)

__all__ = [
    "AccessDeniedError",
    "AccessRequest",
    "Authority",
    "AuthorityPublic",
    "AuthorizedAccess",
    "EdgeVerifier",
    "FreshnessWindow",
    "IntegrityError",
    "KeyRequest",
    "KeyResponse",
    "LightError",
    "PatientKey",
    "PatientKeyGrant",
    "PatientRecord",
    "PatientRegistration",
    "ReplayCache",
    "ReplayError",
    "StaleMessageError",
    "Upload",
    "UserCredential",
    "VerifiedUpload",
    "WarrantError",
    "WarrantRecord",
]
