"""Type tags, versions and hash labels of the threshold PRE objects (one place, no clashes)."""

from __future__ import annotations

from crypto import tags

VERSION = 1
#: ReEncryptionShare: version 2 carries the proof as (c, z); version 1 carried (A, B, z).
SHARE_VERSION = 2

TAG_PUBLIC_KEY = tags.TPRE_PUBLIC_KEY
TAG_OWNER_CIPHERTEXT = tags.TPRE_OWNER_CIPHERTEXT
TAG_GRANT = tags.TPRE_GRANT
TAG_REKEY_SHARE = tags.TPRE_REKEY_SHARE
TAG_REENCRYPTION_SHARE = tags.TPRE_REENCRYPTION_SHARE
TAG_REENCRYPTED_CIPHERTEXT = tags.TPRE_REENCRYPTED_CIPHERTEXT
TAG_SECRET_KEY = tags.TPRE_SECRET_KEY

LABEL_DEM_KEY = b"iomtshare/tpre/dem-key/v1"
LABEL_SHARE_PROOF = b"iomtshare/tpre/share-proof/v2"  # v2: 128-bit challenges
LABEL_BATCH_WEIGHTS = b"iomtshare/tpre/batch-weights/v1"
