"""Four :class:`NodeApplication` instances under real consensus machines, wired in memory.

No sockets and no wall clock: a FIFO router delivers every message, and when nothing is in
flight the virtual clock jumps to the next timer. Ledgers live in memory stores. Used by the
application unit tests to run the whole request path (authorize, shares, build, open, commit).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from client.owner import grant_fields
from consensus import (
    ConsensusConfig,
    ConsensusNode,
    Ed25519Signer,
    Ed25519Verifier,
    Message,
    Output,
    Timeouts,
    Timer,
)
from consensus.encoding import ItemKind
from crypto.abe import FameMasterKey, seal_record
from crypto.dual import DomainKeyShare, encrypt_to_domain, setup
from crypto.groups import Group, load_group
from crypto.policy import attribute_hash, parse
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from crypto.storage import ErasureCoded, encode
from crypto.tpre import UserSecretKey, encrypt_to_owner, generate_user_key, make_grant
from ledger.authority_keys import authority_keys
from ledger.content import record_context
from ledger.genesis import Genesis, NodeInfo
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.ordering import pair_version
from ledger.qc import access_vote_payload, commit_vote_payload
from ledger.transactions import (
    AccessRequest,
    Grant,
    KeyUpdate,
    MemberRole,
    PutRecord,
    RegisterMember,
    Revoke,
    Transaction,
    member_id_for,
    tx_id_of,
)
from node.application import NodeApplication
from node.ceremony import deal_authority_keys
from node.domain_share import open_share
from node.localstore import LocalStore
from node.p2p import peer_id_of

START_MS = 1_800_000_000_000
METADATA = b"DEK and digest of one ECG file"
BULK = b"bulk ciphertext " * 50


@dataclass
class Member:
    key: SigningKey
    tpre: UserSecretKey
    box: BoxSecretKey = field(default_factory=BoxSecretKey.generate)

    @property
    def member_id(self) -> bytes:
        return member_id_for(self.key.verify_key)


@dataclass
class AppWorld:
    """The network, its clock and the helpers that make signed transactions."""

    group: Group
    genesis: Genesis
    authority: SigningKey
    node_keys: list[SigningKey]
    box_keys: list[BoxSecretKey]
    apps: dict[int, NodeApplication] = field(default_factory=dict)
    machines: dict[int, ConsensusNode] = field(default_factory=dict)
    down: set[int] = field(default_factory=set)
    #: The erasure-coded bulk data of each record made by :meth:`put_record`.
    stored: dict[bytes, ErasureCoded] = field(default_factory=dict)
    #: Members whose TPRE key is committed (grants must embed the published keys).
    published: set[bytes] = field(default_factory=set)
    #: The authority's FAME master key, when the genesis deals the authority's keys.
    fame: FameMasterKey | None = None
    now: float = START_MS / 1000
    _queue: deque[tuple[int, Message]] = field(default_factory=deque)
    _timers: list[tuple[float, int, int, Timer]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def clock_ms(self) -> int:
        return int(self.now * 1000)

    # -- transactions -------------------------------------------------------------------------

    def sign(self, tx: Transaction, key: SigningKey) -> bytes:
        return tx.signed(key, self.genesis.chain_id).to_bytes()

    def member(
        self, role: MemberRole = MemberRole.OWNER, attributes: tuple[str, ...] = ("role:test",)
    ) -> tuple[Member, bytes]:
        member = Member(SigningKey.generate(), generate_user_key(self.group))
        tx = RegisterMember(
            member_id=member.member_id,
            verify_key=member.key.verify_key.raw,
            box_key=member.box.public_key.raw,
            role=int(role),
            attributes=attributes,
            registered_at_ms=self.clock_ms(),
        )
        return member, self.sign(tx, self.authority)

    def put_record(
        self,
        owner: Member,
        access_limit: int = 5,
        policy: str = "",
        parts: tuple[bytes, int, bytes] = (b"", 0, b""),
        record_id: bytes | None = None,
    ) -> tuple[bytes, bytes]:
        """``owner``'s signed PutRecord; ``parts`` are its (ABE ciphertext, domain epoch,
        domain ciphertext), empty for an owner-grant record."""
        record_id = record_id or secrets.token_bytes(32)
        ciphertext = encrypt_to_owner(self.group, owner.tpre.public_key(), METADATA)
        coded = encode(BULK, self.genesis.threshold, self.genesis.size)
        self.stored[record_id] = coded
        abe_ciphertext, domain_epoch, domain_ciphertext = parts
        tx = PutRecord(
            record_id=record_id,
            owner=owner.member_id,
            keywords_hash=bytes(32),
            policy=policy,
            access_limit=access_limit,
            metadata_ciphertext=ciphertext.to_bytes(),
            storage_commitments=coded.commitment.to_bytes(),
            abe_ciphertext=abe_ciphertext,
            domain_epoch=domain_epoch,
            domain_ciphertext=domain_ciphertext,
            created_at_ms=self.clock_ms(),
        )
        return record_id, self.sign(tx, owner.key)

    def policy_parts(
        self, owner: Member, record_id: bytes, policy: str, key_check: bool = True
    ) -> tuple[tuple[bytes, int, bytes], bytes]:
        """The sharing fields of a policy record (as the owner's client seals them: the FAME
        header under ``policy`` and K_pre under the genesis domain key with its proof), and
        K_pre. Needs a world made with ``authority_keys``. ``key_check`` false: a version 2
        dual record, without the key check."""
        keys = authority_keys(self.genesis, self.group)
        assert keys is not None, "make_world(authority_keys=True)"
        assert self.fame is not None
        dual, k_pre = seal_record(self.fame.public, parse(policy), record_id, METADATA)
        if not key_check:
            dual = dataclasses.replace(dual, key_check=None)
        context = record_context(record_id, owner.member_id, self.genesis.chain_id)
        domain = encrypt_to_domain(
            setup(self.group), keys.dealing.public_key, k_pre, record_id, context=context
        )
        return (dual.to_bytes(), keys.epoch, domain.to_bytes()), k_pre

    def put_policy_record(
        self, owner: Member, policy: str, access_limit: int = 5, key_check: bool = True
    ) -> tuple[bytes, bytes, bytes]:
        """``owner``'s signed PutRecord of a new policy record: (record id, tx, K_pre)."""
        record_id = secrets.token_bytes(32)
        parts, k_pre = self.policy_parts(owner, record_id, policy, key_check)
        _, raw = self.put_record(owner, access_limit, policy, parts, record_id)
        return record_id, raw, k_pre

    def publish_key(self, member: Member) -> bytes:
        """The KeyUpdate publishing ``member``'s TPRE key (its other keys unchanged)."""
        tx = KeyUpdate(
            member_id=member.member_id,
            new_verify_key=member.key.verify_key.raw,
            new_box_key=member.box.public_key.raw,
            public_key_material=member.tpre.public_key().to_bytes(),
            issued_at_ms=self.clock_ms(),
        )
        return self.sign(tx, member.key)

    def grant(self, owner: Member, record_id: bytes, grantee: Member) -> bytes:
        """``owner``'s signed grant of ``record_id`` to ``grantee``; first commits the
        publication of either member's TPRE key if it is not on chain yet (as members do once,
        after registering)."""
        unpublished = [m for m in (owner, grantee) if m.member_id not in self.published]
        if unpublished:
            self.commit_all([self.publish_key(m) for m in unpublished])
            self.published.update(m.member_id for m in unpublished)
        tpre_grant = make_grant(
            self.group,
            owner.tpre,
            grantee.tpre.public_key(),
            [b.public_key for b in self.box_keys],
            self.genesis.threshold,
        )
        sealed, commitments = grant_fields(tpre_grant)
        tx = Grant(
            record_id=record_id,
            owner=owner.member_id,
            grantee=grantee.member_id,
            version=self.next_pair_version(record_id, grantee),
            threshold=self.genesis.threshold,
            expires_at_ms=self.clock_ms() + 3_600_000,
            sealed_rekey_shares=sealed,
            commitments=commitments,
            issued_at_ms=self.clock_ms(),
        )
        return self.sign(tx, owner.key)

    def revoke(self, owner: Member, record_id: bytes, grantee: Member) -> bytes:
        version = self.next_pair_version(record_id, grantee)
        tx = Revoke(record_id, owner.member_id, grantee.member_id, version, self.clock_ms())
        return self.sign(tx, owner.key)

    def next_pair_version(self, record_id: bytes, grantee: Member) -> int:
        """The version the next Grant or Revoke of the pair takes, on a live node's chain."""
        live = next(app for index, app in self.apps.items() if index not in self.down)
        return pair_version(live.ledger.store, record_id, grantee.member_id) + 1

    def request(
        self,
        requester: Member,
        record_id: bytes,
        nonce: bytes | None = None,
        attributes: Sequence[str] = (),
    ) -> bytes:
        tx = AccessRequest(
            requester=requester.member_id,
            record_id=record_id,
            keywords_hash=bytes(32),
            attribute_hashes=tuple(sorted(attribute_hash(a) for a in attributes)),
            timestamp_ms=self.clock_ms(),
            nonce=nonce or secrets.token_bytes(16),
        )
        return self.sign(tx, requester.key)

    # -- network ------------------------------------------------------------------------------

    def submit(self, kind: ItemKind, body: bytes, to: int = 1) -> None:
        """A client's transaction taken by node ``to``, decoded there as its API does."""
        item = self.apps[to].decode_item(kind, body)
        self._apply(to, self.machines[to].on_message(item, self.now))

    def commit_all(self, txs: Sequence[bytes], to: int = 1) -> None:
        """Submit ordinary transactions and run until every live node committed them all."""
        for tx in txs:
            self.submit(ItemKind.TX, tx, to)
        ids = [tx_id_of(tx) for tx in txs]
        self.run_until(lambda: all(self._committed_everywhere(i) for i in ids))

    def _committed_everywhere(self, ident: bytes) -> bool:
        return all(self.apps[i].is_committed(ident) for i in self.apps if i not in self.down)

    def run_until(self, done: Callable[[], bool], max_steps: int = 20_000) -> None:
        for _ in range(max_steps):
            if done():
                return
            if self._queue:
                target, message = self._queue.popleft()
                if target not in self.down:
                    self._apply(target, self.machines[target].on_message(message, self.now))
            elif self._timers:
                deadline, _, target, timer = heapq.heappop(self._timers)
                self.now = max(self.now, deadline)
                if target not in self.down:
                    self._apply(target, self.machines[target].on_timer(timer, self.now))
            else:
                break
        if not done():
            raise AssertionError("the network did not reach the expected state")

    def _apply(self, source: int, out: Output) -> None:
        for send in out.sends:
            targets = (
                [send.to] if send.to is not None else [i for i in self.machines if i != source]
            )
            for target in targets:
                self._queue.append((target, send.message))
        for timer in out.timers:
            heapq.heappush(self._timers, (timer.deadline, next(self._seq), source, timer))
        app, machine = self.apps[source], self.machines[source]
        if out.commits or app.dropped:  # what the node service does after each step
            machine.pool.remove(tuple(app.stale_items(machine.pool.items())))


def make_world(n: int = 4, threshold: int = 3, *, authority_keys: bool = False) -> AppWorld:
    """``n`` nodes of threshold ``threshold``; with ``authority_keys`` the genesis deals a domain
    key and a FAME key (as ``testnet up`` does) and each node holds its domain share."""
    group = load_group()
    node_keys = [SigningKey.generate() for _ in range(n)]
    box_keys = [BoxSecretKey.generate() for _ in range(n)]
    authority = SigningKey.generate()
    nodes = tuple(
        NodeInfo(i, str(peer_id_of(k.verify_key)), k.verify_key.raw, b.public_key.raw)
        for i, (k, b) in enumerate(zip(node_keys, box_keys, strict=True), start=1)
    )
    genesis = Genesis.create(
        "app-world",
        nodes,
        authority.verify_key.raw,
        genesis_time_ms=START_MS - 1000,
        threshold=threshold,
        denial_limit=2,
    )
    shares: list[DomainKeyShare | None] = [None] * n
    fame_master = None
    if authority_keys:
        dealt = deal_authority_keys(group, genesis)
        genesis = dataclasses.replace(
            genesis, domain=dealt.domain, fame_public_key=dealt.fame_master.public.to_bytes()
        )
        fame_master = dealt.fame_master
        shares = [
            open_share(sealed, genesis, i, box_keys[i - 1], group, f"node {i}")
            for i, sealed in enumerate(dealt.shares, start=1)
        ]
    world = AppWorld(group, genesis, authority, node_keys, box_keys, fame=fame_master)
    config = ConsensusConfig("app-world", n, genesis.quorum, Timeouts())
    verifier = Ed25519Verifier([k.verify_key for k in node_keys])
    for index in range(1, n + 1):
        app = NodeApplication(
            Ledger.from_store(MemoryStore(), genesis),
            LocalStore(MemoryStore()),
            group,
            index,
            box_keys[index - 1],
            world.clock_ms,
            shares[index - 1],
        )
        world.apps[index] = app
        world.machines[index] = ConsensusNode.create(
            config,
            index,
            Ed25519Signer(node_keys[index - 1]),
            verifier,
            app,
            commit_vote_payload,
            access_vote_payload,
        )
    for index, machine in world.machines.items():
        world._apply(index, machine.start(world.now))
    return world
