"""Type tags, versions and hash labels of the threshold PRE objects (one place, no clashes)."""

from __future__ import annotations

VERSION = 1

TAG_PUBLIC_KEY = 0x10
TAG_OWNER_CIPHERTEXT = 0x11
TAG_GRANT = 0x12
TAG_REKEY_SHARE = 0x13
TAG_REENCRYPTION_SHARE = 0x14
TAG_REENCRYPTED_CIPHERTEXT = 0x15
TAG_SECRET_KEY = 0x16

LABEL_DEM_KEY = b"iomtshare/tpre/dem-key/v1"
LABEL_SHARE_PROOF = b"iomtshare/tpre/share-proof/v2"  # v2: 128-bit challenges
LABEL_SHARE_CHECK_WEIGHT = b"iomtshare/tpre/share-check-weight/v1"
LABEL_BATCH_WEIGHTS = b"iomtshare/tpre/batch-weights/v1"
