"""Per-grant keys: verification keys always, this node's re-key share only when it checks out."""

from __future__ import annotations

import dataclasses

import pytest

from crypto.errors import VerificationError
from crypto.groups import load_group
from crypto.sealing import BoxSecretKey
from crypto.tpre import generate_user_key, make_grant
from ledger.records import GrantEntry
from node.keycache import KeyCache


def entry_for(grant_bytes: bytes, tx_id: bytes, threshold: int = 2) -> GrantEntry:
    return GrantEntry(bytes(32), bytes(32), 1, threshold, 1, grant_bytes, b"", 1, tx_id)


def test_own_share_verification_keys_and_caching() -> None:
    group = load_group()
    boxes = [BoxSecretKey.generate() for _ in range(3)]
    owner, requester = generate_user_key(group), generate_user_key(group)
    grant = make_grant(group, owner, requester.public_key(), [b.public_key for b in boxes], 2)
    entry = entry_for(grant.to_bytes(), b"\x01" * 32)
    cache = KeyCache(group, 2, boxes[1])
    keys = cache.grant(entry, 3)
    assert keys.own_share().index == 2
    assert cache.grant(entry, 3) is keys
    assert keys.verification_key(3) == keys.vks[2]
    with pytest.raises(VerificationError):
        keys.verification_key(4)
    # Node 3 opening with node 1's box key: its share is unusable, the VKs still serve.
    wrong = KeyCache(group, 3, boxes[0]).grant(entry, 3)
    with pytest.raises(VerificationError, match="unusable"):
        wrong.own_share()
    assert wrong.vks == keys.vks


def test_grant_that_does_not_fit_the_network_is_refused() -> None:
    group = load_group()
    boxes = [BoxSecretKey.generate() for _ in range(3)]
    owner, requester = generate_user_key(group), generate_user_key(group)
    grant = make_grant(group, owner, requester.public_key(), [b.public_key for b in boxes], 2)
    cache = KeyCache(group, 1, boxes[0])
    with pytest.raises(VerificationError):
        cache.grant(entry_for(grant.to_bytes(), b"\x02" * 32), 4)
    with pytest.raises(VerificationError):
        cache.grant(entry_for(grant.to_bytes(), b"\x03" * 32, threshold=3), 3)
    assert dataclasses.is_dataclass(cache.grant(entry_for(grant.to_bytes(), b"\x04" * 32), 3))
