"""Distributed trusted storage (seed 000 V-E).

Bulk ciphertexts are erasure-coded with zfec (:mod:`crypto.storage.erasure`); small ones are
split into Pedersen-committed polynomial shares (:mod:`crypto.storage.pedersen`). Either way any
``t`` of ``n`` fragments rebuild the object and a bad fragment is detected and named.
"""

from crypto.storage.erasure import (
    ErasureCoded,
    Fragment,
    Rebuilt,
    StorageCommitment,
    encode,
    rebuild,
)
from crypto.storage.errors import CorruptFragmentError, NotEnoughFragmentsError, StorageError
from crypto.storage.pedersen import (
    PedersenCommitment,
    PedersenFragment,
    PedersenSplit,
    reconstruct,
    split,
    verify_fragment,
)

__all__ = [
    "CorruptFragmentError",
    "ErasureCoded",
    "Fragment",
    "NotEnoughFragmentsError",
    "PedersenCommitment",
    "PedersenFragment",
    "PedersenSplit",
    "Rebuilt",
    "StorageCommitment",
    "StorageError",
    "encode",
    "rebuild",
    "reconstruct",
    "split",
    "verify_fragment",
]
