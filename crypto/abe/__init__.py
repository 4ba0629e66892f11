"""Ciphertext-policy ABE: FAME on the pairing group layer, and the dual key split.

* :mod:`crypto.abe.span`: span programs from the shared policy tree (and, or, k-of-n).
* :mod:`crypto.abe.terms`: collision-free hashing of attribute and column terms.
* :mod:`crypto.abe.fame`: Setup, KeyGen, Encrypt (encapsulate), Decrypt (decapsulate, 6 pairings).
* :mod:`crypto.abe.envelope`: KEM-DEM for payloads of any size.
* :mod:`crypto.abe.dual`: ``DEK = HKDF(record id, K_pre, K_abe)``.
"""

from crypto.abe.ciphertext import FameCiphertext
from crypto.abe.dual import (
    DualRecord,
    abe_binding,
    open_record,
    recover_abe_part,
    seal_record,
)
from crypto.abe.envelope import FameEnvelope, open_envelope, seal
from crypto.abe.errors import AbeError, UnsatisfiedPolicyError
from crypto.abe.fame import decapsulate, encapsulate, keygen, setup
from crypto.abe.keys import FameMasterKey, FamePublicKey, FameSecretKey
from crypto.abe.span import SpanProgram, recombination, span_program
from crypto.abe.terms import AttributeTermCache

__all__ = [
    "AbeError",
    "AttributeTermCache",
    "DualRecord",
    "FameCiphertext",
    "FameEnvelope",
    "FameMasterKey",
    "FamePublicKey",
    "FameSecretKey",
    "SpanProgram",
    "UnsatisfiedPolicyError",
    "abe_binding",
    "decapsulate",
    "encapsulate",
    "keygen",
    "open_envelope",
    "open_record",
    "recombination",
    "recover_abe_part",
    "seal",
    "seal_record",
    "setup",
    "span_program",
]
