"""Real cryptography for simulated runs: Ed25519 node keys and threshold PRE shares (crypto.tpre).

One owner has one record encrypted to her; for each threshold used by the workload she makes a
grant to one requester, split across the n nodes through sealed boxes. Each node opens and checks
its re-key share, computes proven re-encryption shares bound to the request id, and checks its
peers' shares; the leader combines t of them, and the invariant checker decrypts every committed
result with the requester's key.

Verification results are memoised per share encoding: verification is a deterministic function
of its inputs, so the memo only saves time and cannot change any node's decision.
"""

from __future__ import annotations

from consensus.signer import Ed25519Signer, Ed25519Verifier, Signer
from consensus.simulation.fake import FakeRequest, sim_item_id
from consensus.simulation.simulator import World
from consensus.votes import DecidedRequest
from crypto.errors import CryptoError, DecodeError
from crypto.groups import Group, load_group
from crypto.hashing import digest
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from crypto.tpre import (
    OwnerCiphertext,
    ReEncryptedCiphertext,
    ReEncryptionShare,
    UserSecretKey,
    VerifiedReKeyShare,
    VerifiedShare,
    combine_shares,
    decrypt_reencrypted,
    encrypt_to_owner,
    generate_user_key,
    make_grant,
    open_rekey_share,
    reencryption_share,
    verification_keys,
    verify_rekey_share,
    verify_share,
)
from crypto.tpre.grant import Grant

PLAINTEXT = b"ecg record metadata: DEK, digest, storage commitments"


class _GrantKeys:
    """One grant with every node's verified re-key share and the verification keys."""

    def __init__(self, group: Group, grant: Grant, boxes: list[BoxSecretKey]) -> None:
        self.grant = grant
        self.vks = verification_keys(group, grant)
        self.rekeys: dict[int, VerifiedReKeyShare] = {}
        for index, box in enumerate(boxes, start=1):
            share = open_rekey_share(group, grant, index, box)
            self.rekeys[index] = verify_rekey_share(group, share, self.vks[index - 1])


class TpreShares:
    """The :class:`~consensus.simulation.fake.ShareScheme` over crypto.tpre."""

    def __init__(self, group: Group, n: int) -> None:
        self.group = group
        self.n = n
        self.owner = generate_user_key(group)
        self.requester: UserSecretKey = generate_user_key(group)
        self.record: OwnerCiphertext = encrypt_to_owner(group, self.owner.public_key(), PLAINTEXT)
        self._boxes = [BoxSecretKey.generate() for _ in range(n)]
        self._grants: dict[int, _GrantKeys] = {}
        self._verified: dict[bytes, VerifiedShare | None] = {}
        self._c1_pairing = group.pairing(self.record.c1, group.g2)

    def _keys(self, threshold: int) -> _GrantKeys:
        keys = self._grants.get(threshold)
        if keys is None:
            grant = make_grant(
                self.group,
                self.owner,
                self.requester.public_key(),
                [b.public_key for b in self._boxes],
                threshold,
            )
            keys = self._grants[threshold] = _GrantKeys(self.group, grant, self._boxes)
        return keys

    def share(self, index: int, request: bytes) -> bytes:
        keys = self._keys(FakeRequest.from_bytes(request).threshold)
        context = sim_item_id(request)
        share = reencryption_share(
            self.group, keys.rekeys[index], self.record.c1, context, c1_pairing=self._c1_pairing
        )
        return share.to_bytes()

    def _verified_share(self, index: int, request: bytes, share: bytes) -> VerifiedShare | None:
        key = digest(b"iomtshare/sim/share-memo", index.to_bytes(2, "big"), request, share)
        if key in self._verified:
            return self._verified[key]
        result: VerifiedShare | None = None
        try:
            parsed = ReEncryptionShare.from_bytes(self.group, share)
            if parsed.index == index:
                keys = self._keys(FakeRequest.from_bytes(request).threshold)
                context = sim_item_id(request)
                result = verify_share(
                    self.group, parsed, keys.vks[index - 1], self.record.c1, context
                )
        except (CryptoError, DecodeError):
            result = None
        self._verified[key] = result
        return result

    def verify(self, index: int, request: bytes, share: bytes) -> bool:
        if not 1 <= index <= self.n:
            return False
        return self._verified_share(index, request, share) is not None

    def combine(self, decided: DecidedRequest) -> bytes:
        request = decided.request.body
        threshold = FakeRequest.from_bytes(request).threshold
        verified = []
        for vote in sorted(decided.votes, key=lambda v: v.voter)[:threshold]:
            share = self._verified_share(vote.voter, request, vote.share)
            if share is not None:
                verified.append(share)
        return combine_shares(self.group, self.record, verified, threshold).to_bytes()

    def result_ok(self, request: bytes, result: bytes) -> bool:
        """The requester can open the combined ciphertext and reads the owner's plaintext."""
        try:
            rct = ReEncryptedCiphertext.from_bytes(self.group, result)
            return decrypt_reencrypted(self.requester, rct) == PLAINTEXT
        except CryptoError:
            return False


def real_world(n: int, seed: int, backend: str | None = None) -> World:
    """Ed25519 keys derived from ``seed`` and tpre shares on the given pairing backend."""
    keys = [
        SigningKey(digest(b"iomtshare/sim/node-key", seed.to_bytes(8, "big"), i.to_bytes(2, "big")))
        for i in range(1, n + 1)
    ]
    signers: dict[int, Signer] = {i: Ed25519Signer(k) for i, k in enumerate(keys, start=1)}
    verifier = Ed25519Verifier([k.verify_key for k in keys])
    return World(signers, verifier, TpreShares(load_group(backend), n))
