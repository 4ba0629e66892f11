"""A small threshold-PRE world (owner, requester, n nodes) shared by the TPRE tests."""

from __future__ import annotations

from dataclasses import dataclass

from crypto.groups import Group, GTElement
from crypto.sealing import BoxSecretKey
from crypto.tpre import (
    Grant,
    OwnerCiphertext,
    ReEncryptionShare,
    UserSecretKey,
    VerifiedReKeyShare,
    encrypt_to_owner,
    generate_user_key,
    make_grant,
    open_rekey_share,
    reencryption_share,
    verification_keys,
    verify_rekey_share,
)


@dataclass
class World:
    group: Group
    owner: UserSecretKey
    requester: UserSecretKey
    node_keys: list[BoxSecretKey]
    grant: Grant
    vks: list[GTElement]
    rekeys: list[VerifiedReKeyShare]
    ciphertext: OwnerCiphertext
    plaintext: bytes

    def shares(self, context: bytes) -> list[ReEncryptionShare]:
        return [
            reencryption_share(self.group, rk, self.ciphertext.c1, context) for rk in self.rekeys
        ]

    def vk_map(self) -> dict[int, GTElement]:
        return {i + 1: vk for i, vk in enumerate(self.vks)}


def make_world(group: Group, threshold: int, n: int, plaintext: bytes = b"metadata") -> World:
    owner, requester = generate_user_key(group), generate_user_key(group)
    nodes = [BoxSecretKey.generate() for _ in range(n)]
    grant = make_grant(
        group, owner, requester.public_key(), [k.public_key for k in nodes], threshold
    )
    vks = verification_keys(group, grant)
    rekeys = [
        verify_rekey_share(group, open_rekey_share(group, grant, i + 1, nodes[i]), vks[i])
        for i in range(n)
    ]
    ciphertext = encrypt_to_owner(group, owner.public_key(), plaintext)
    return World(group, owner, requester, nodes, grant, vks, rekeys, ciphertext, plaintext)
