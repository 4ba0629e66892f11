"""A deterministic chain for tests, benchmarks and local tools.

:class:`ChainFixture` derives every key from a seed, builds the genesis, signs transactions,
access votes and commit QCs, and commits blocks to a :class:`~ledger.ledger.Ledger`. Nothing here
is secret or meant for production: the keys are reproducible on purpose.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from nacl.bindings import crypto_box, crypto_box_seed_keypair

from crypto.groups import Group, load_group
from crypto.groups.scalars import inv_mod
from crypto.hashing import digest
from crypto.polynomial import evaluate_polynomial
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from crypto.tpre import Grant as TpreGrant
from crypto.tpre import ReKeyShare, UserSecretKey
from ledger.block import Block, ElectionQC, ElectionSignature, SharingResult
from ledger.genesis import Genesis, NodeInfo
from ledger.ledger import Ledger
from ledger.qc import (
    AccessVote,
    CommitQC,
    CommitSignature,
    access_vote_payload,
    commit_vote_payload,
)
from ledger.transactions import (
    AccessRequest,
    AttributeChange,
    Grant,
    KeyUpdate,
    MemberRole,
    PutRecord,
    RegisterMember,
    Revoke,
    Transaction,
    Unblacklist,
    member_id_for,
)

_TAG = b"iomtshare/ledger/testing/v1"


def derived(seed: bytes, *labels: bytes | str | int) -> bytes:
    """32 reproducible bytes for ``labels`` under ``seed``."""
    parts = [
        label.encode() if isinstance(label, str) else label if isinstance(label, bytes)
        else label.to_bytes(8, "big")
        for label in labels
    ]
    return digest(_TAG, seed, *parts)


def derived_scalar(group: Group, seed: bytes, *labels: bytes | str | int) -> int:
    """A reproducible non-zero scalar of ``group`` for ``labels`` under ``seed``."""
    return int.from_bytes(derived(seed, *labels), "big") % (group.order - 1) + 1


def sealed_deterministically(recipient: bytes, message: bytes, ephemeral_seed: bytes) -> bytes:
    """An X25519 sealed box of ``message`` (libsodium's ``crypto_box_seal`` format) whose
    ephemeral key comes from ``ephemeral_seed``, so fixtures and test vectors are reproducible.

    Only for tests: a real sealed box needs a fresh random ephemeral key.
    """
    ephemeral_public, ephemeral_secret = crypto_box_seed_keypair(ephemeral_seed)
    nonce = hashlib.blake2b(ephemeral_public + recipient, digest_size=24).digest()
    return ephemeral_public + crypto_box(message, nonce, recipient, ephemeral_secret)


class ChainFixture:
    """Keys, genesis and block-building shortcuts for one reproducible test chain."""

    def __init__(
        self,
        nodes: int = 4,
        *,
        seed: bytes = b"fixture",
        chain_id: str = "iomtshare-test",
        genesis_time_ms: int = 1_700_000_000_000,
        block_interval_ms: int = 1_000,
        **params: int,
    ) -> None:
        self.seed = seed
        self.node_keys = [SigningKey(derived(seed, "node", i)) for i in range(1, nodes + 1)]
        self.authority_key = SigningKey(derived(seed, "authority"))
        infos = tuple(
            NodeInfo(
                index=i,
                peer_id=f"node-{i}",
                verify_key=bytes(key.verify_key),
                box_key=bytes(self.node_box_key(i).public_key),
            )
            for i, key in enumerate(self.node_keys, start=1)
        )
        self.genesis = Genesis.create(
            chain_id,
            infos,
            bytes(self.authority_key.verify_key),
            genesis_time_ms=genesis_time_ms,
            block_interval_ms=block_interval_ms,
            **params,
        )
        self.member_keys: dict[str, SigningKey] = {}
        self._member_ids: dict[str, bytes] = {}
        self._box_keys: dict[str, bytes] = {}
        self._tpre_grants: dict[tuple[str, str], TpreGrant] = {}
        self._nonce_counter = 0
        self._issue_counter = 0
        # The chain positions the fixture expects its transactions to take, assuming each one it
        # makes is committed in the order made (see change_attributes and grant).
        self._attribute_seqs: dict[str, int] = {}
        self._pair_versions: dict[tuple[str, str], int] = {}

    @property
    def chain_id(self) -> str:
        return self.genesis.chain_id

    @property
    def group(self) -> Group:
        return load_group()

    def node_box_key(self, index: int) -> BoxSecretKey:
        """The X25519 key of node ``index`` (1-based), which opens its re-key shares."""
        return BoxSecretKey(derived(self.seed, "box", index))

    def time_at(self, height: int) -> int:
        """The block time the fixture uses for ``height``."""
        return self.genesis.genesis_time_ms + height * self.genesis.block_interval_ms

    # -- members and transactions ------------------------------------------------------------

    def restart_issue_times(self, start: int) -> None:
        """Make the following issue times depend only on ``start``, for workloads that must
        rebuild byte-identical transactions in another process."""
        self._issue_counter = start

    def _issued(self) -> int:
        """A distinct issue time for each transaction, so repeats are new transactions."""
        self._issue_counter += 1
        return self.genesis.genesis_time_ms + self._issue_counter

    def key_of(self, name: str) -> SigningKey:
        if name not in self.member_keys:
            self.member_keys[name] = SigningKey(derived(self.seed, "member", name))
        return self.member_keys[name]

    def member_id(self, name: str) -> bytes:
        """The member id of ``name``: the hash of its first key (unchanged by rotations)."""
        if name not in self._member_ids:
            self._member_ids[name] = member_id_for(self.key_of(name).verify_key)
        return self._member_ids[name]

    def box_key_of(self, name: str) -> bytes:
        """The X25519 public key ``name`` currently has on chain."""
        if name not in self._box_keys:
            secret = BoxSecretKey(derived(self.seed, "member-box", name))
            self._box_keys[name] = secret.public_key.raw
        return self._box_keys[name]

    def tpre_secret(self, name: str) -> UserSecretKey:
        """The TPRE key of member ``name`` (fixed for the member, whatever its Ed25519 key)."""
        return UserSecretKey(self.group, derived_scalar(self.group, self.seed, "tpre", name))

    def tpre_public(self, name: str) -> bytes:
        return self.tpre_secret(name).public_key().to_bytes()

    def register(
        self,
        name: str,
        *,
        role: MemberRole = MemberRole.OWNER,
        attributes: tuple[str, ...] = (),
        at_ms: int = 0,
    ) -> RegisterMember:
        self._attribute_seqs[name] = 0
        tx = RegisterMember(
            member_id=self.member_id(name),
            verify_key=bytes(self.key_of(name).verify_key),
            box_key=self.box_key_of(name),
            role=int(role),
            attributes=attributes,
            registered_at_ms=at_ms,
        )
        return tx.signed(self.authority_key, self.chain_id)

    def change_attributes(
        self,
        name: str,
        attributes: tuple[str, ...],
        reason: str = "updated",
        at_ms: int = 0,
        *,
        seq: int | None = None,
    ) -> AttributeChange:
        """An attribute change at chain position ``seq``: by default the one after the last
        change (or registration) the fixture made for ``name``."""
        if seq is None:
            seq = self._attribute_seqs.get(name, 0) + 1
        self._attribute_seqs[name] = seq
        tx = AttributeChange(
            self.member_id(name), seq, attributes, reason, at_ms or self._issued()
        )
        return tx.signed(self.authority_key, self.chain_id)

    def _next_version(self, record: str, grantee: str, version: int | None) -> int:
        if version is None:
            version = self._pair_versions.get((record, grantee), 0) + 1
        self._pair_versions[(record, grantee)] = version
        return version

    def put_record(
        self,
        owner: str,
        record: str,
        *,
        keywords: str = "",
        policy: str = "",
        access_limit: int = 3,
        payload: bytes = b"metadata-ciphertext",
    ) -> PutRecord:
        tx = PutRecord(
            record_id=self.record_id(record),
            owner=self.member_id(owner),
            keywords_hash=self.keywords_hash(keywords),
            policy=policy,
            access_limit=access_limit,
            metadata_ciphertext=payload,
            storage_commitments=b"",
            abe_ciphertext=b"",
            domain_epoch=0,
            domain_ciphertext=b"",
            created_at_ms=self._issued(),
        )
        return tx.signed(self.key_of(owner), self.chain_id)

    def record_id(self, record: str) -> bytes:
        return derived(self.seed, "record", record)

    def keywords_hash(self, keywords: str) -> bytes:
        return derived(self.seed, "keywords", keywords)

    def tpre_grant(self, owner: str, grantee: str) -> TpreGrant:
        """``owner``'s TPRE grant to ``grantee`` over the genesis nodes, as
        :func:`crypto.tpre.make_grant` makes it but from fixed randomness.

        Both members must have published their TPRE keys (:meth:`publish_key`) before a
        Grant carrying it can be applied.
        """
        group, order, t = self.group, self.group.order, self.genesis.threshold
        key = (owner, grantee)
        if key in self._tpre_grants:
            return self._tpre_grants[key]
        owner_secret = self.tpre_secret(owner)
        x2 = self.tpre_secret(grantee).public_key().x2
        coefficients = [inv_mod(owner_secret.scalar, order)] + [
            derived_scalar(group, self.seed, "grant", owner, grantee, j) for j in range(1, t)
        ]
        base = group.pairing(group.g1, x2)
        sealed = []
        for node in self.genesis.nodes:
            rk = x2 * evaluate_polynomial(coefficients, node.index, order)
            share = ReKeyShare(node.index, rk).to_bytes()
            ephemeral = derived(self.seed, "seal", owner, grantee, node.index)
            sealed.append(sealed_deterministically(node.box_key, share, ephemeral))
        grant = TpreGrant(
            t,
            owner_secret.public_key(),
            self.tpre_secret(grantee).public_key(),
            tuple(base**c for c in coefficients[1:]),
            tuple(sealed),
        )
        self._tpre_grants[key] = grant
        return grant

    def grant(
        self,
        owner: str,
        record: str,
        grantee: str,
        *,
        expires_at_ms: int | None = None,
        version: int | None = None,
        threshold: int | None = None,
    ) -> Grant:
        """``owner``'s grant of ``record`` to ``grantee`` with pair version ``version``: by
        default the one after the last grant or revoke the fixture made for the pair.
        ``threshold`` overrides the one the TPRE grant was made for (making it inconsistent)."""
        tpre = self.tpre_grant(owner, grantee)
        tx = Grant(
            record_id=self.record_id(record),
            owner=self.member_id(owner),
            grantee=self.member_id(grantee),
            version=self._next_version(record, grantee, version),
            threshold=tpre.threshold if threshold is None else threshold,
            expires_at_ms=expires_at_ms or self.genesis.genesis_time_ms + 10**9,
            sealed_rekey_shares=tpre.to_bytes(),
            commitments=b"".join(bytes(f) for f in tpre.commitments),
            issued_at_ms=self._issued(),
        )
        return tx.signed(self.key_of(owner), self.chain_id)

    def revoke(
        self, owner: str, record: str, grantee: str, *, version: int | None = None
    ) -> Revoke:
        """``owner`` revokes ``grantee`` on ``record``; ``version`` as for :meth:`grant`."""
        tx = Revoke(
            self.record_id(record),
            self.member_id(owner),
            self.member_id(grantee),
            self._next_version(record, grantee, version),
            self._issued(),
        )
        return tx.signed(self.key_of(owner), self.chain_id)

    def unblacklist(
        self, name: str, blacklisted_height: int, reason: str = "reviewed"
    ) -> Unblacklist:
        """The authority lifts ``name``'s blacklisting of block ``blacklisted_height``."""
        tx = Unblacklist(self.member_id(name), blacklisted_height, reason, self._issued())
        return tx.signed(self.authority_key, self.chain_id)

    def request(
        self, requester: str, record: str, *, at_ms: int, nonce: bytes | None = None
    ) -> AccessRequest:
        if nonce is None:
            self._nonce_counter += 1
            nonce = derived(self.seed, "nonce", self._nonce_counter)[:16]
        tx = AccessRequest(
            requester=self.member_id(requester),
            record_id=self.record_id(record),
            keywords_hash=bytes(32),
            attribute_hashes=(),
            timestamp_ms=at_ms,
            nonce=nonce,
        )
        return tx.signed(self.key_of(requester), self.chain_id)

    def publish_key(self, name: str) -> KeyUpdate:
        """``name`` publishes its TPRE public key, keeping its other keys (as members do once
        registered: owners need it to grant, grantees to be granted)."""
        tx = KeyUpdate(
            member_id=self.member_id(name),
            new_verify_key=bytes(self.key_of(name).verify_key),
            new_box_key=self.box_key_of(name),
            public_key_material=self.tpre_public(name),
            issued_at_ms=self._issued(),
        )
        return tx.signed(self.key_of(name), self.chain_id)

    def key_update(self, name: str, new_name: str) -> KeyUpdate:
        """Rotate ``name``'s Ed25519 and X25519 keys to those fixture-named ``new_name`` (keeps
        the member id and publishes the member's TPRE key)."""
        tx = KeyUpdate(
            member_id=self.member_id(name),
            new_verify_key=bytes(self.key_of(new_name).verify_key),
            new_box_key=self.box_key_of(new_name),
            public_key_material=self.tpre_public(name),
            issued_at_ms=self._issued(),
        )
        signed = tx.signed(self.key_of(name), self.chain_id)
        self.member_keys[name] = self.key_of(new_name)
        self._box_keys[name] = self.box_key_of(new_name)
        return signed

    def result(
        self,
        request: AccessRequest,
        *,
        granted: bool,
        voters: Sequence[int] | None = None,
        dissenters: Sequence[int] = (),
    ) -> SharingResult:
        """A sharing result with votes for ``granted`` from ``voters`` (default: a quorum)."""
        request_id = request.tx_id()
        chosen = list(voters) if voters is not None else list(range(1, self.genesis.quorum + 1))
        votes = []
        for index in sorted(set(chosen) | set(dissenters)):
            approve = granted if index in chosen else not granted
            share = derived(self.seed, "share", index, request_id) if approve else b""
            payload = access_vote_payload(self.chain_id, request_id, approve, share)
            signature = self.node_keys[index - 1].sign(payload)
            votes.append(AccessVote(index, approve, share, signature))
        return SharingResult(
            request_id=request_id,
            record_id=request.record_id,
            requester=request.requester,
            granted=granted,
            combined_ciphertext=b"combined" if granted else b"",
            votes=tuple(votes),
        )

    def election_qc(self, height: int) -> ElectionQC:
        """A quorum of election signatures for block ``height`` (over a made-up claim: the
        ledger checks the QC's shape, consensus its signatures)."""
        claim_hash = derived(self.seed, "claim", height)
        signatures = tuple(
            ElectionSignature(index, self.node_keys[index - 1].sign(claim_hash))
            for index in range(1, self.genesis.quorum + 1)
        )
        return ElectionQC(claim_hash, signatures)

    # -- blocks --------------------------------------------------------------------------------

    def commit_qc(
        self, block: Block, *, round: int = 0, signers: Sequence[int] | None = None
    ) -> CommitQC:
        chosen = sorted(signers if signers is not None else range(1, self.genesis.quorum + 1))
        payload = commit_vote_payload(self.chain_id, block.height, round, block.hash())
        signatures = tuple(
            CommitSignature(index, self.node_keys[index - 1].sign(payload)) for index in chosen
        )
        return CommitQC(block.height, round, block.hash(), signatures)

    def next_block(
        self,
        ledger: Ledger,
        transactions: Sequence[Transaction] = (),
        results: Sequence[SharingResult] = (),
        *,
        time_ms: int | None = None,
    ) -> Block:
        height = ledger.height + 1
        last_commit = None
        if height > 1:
            stored = ledger.block(height - 1)
            if stored is None:  # pragma: no cover - the ledger verified its chain
                raise LookupError(f"block {height - 1} is missing")
            last_commit = stored.commit_qc
        return ledger.build_block(
            round=0,
            time_ms=self.time_at(height) if time_ms is None else time_ms,
            proposer=1 + (height % self.genesis.size),
            transactions=transactions,
            results=results,
            last_commit=last_commit,
            election_qc=self.election_qc(height),
        )

    def commit(
        self,
        ledger: Ledger,
        transactions: Sequence[Transaction] = (),
        results: Sequence[SharingResult] = (),
        *,
        time_ms: int | None = None,
    ) -> Block:
        """Build, sign and apply the next block; returns it."""
        block = self.next_block(ledger, transactions, results, time_ms=time_ms)
        ledger.apply(block, self.commit_qc(block))
        return block
