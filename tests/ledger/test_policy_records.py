"""Policy records on the ledger (issue 13 item 1): their sharing content is checked when the
PutRecord applies (admission dry-runs the same transition), a Grant cannot name one, and the
domain key a record uses is the current epoch's."""

from __future__ import annotations

import dataclasses

import pytest

from crypto.abe import fame, seal_record
from crypto.dual import (
    DomainSecretKey,
    NormalizedCiphertext,
    deal_domain_key,
    encrypt_to_domain,
    setup,
)
from crypto.policy import parse
from ledger.content import record_context
from ledger.errors import InvalidTransaction
from ledger.genesis import DomainKeys
from ledger.keywords import NO_KEYWORDS, keywords_hash
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import MemberRole, PutRecord
from tests.ledger.conftest import unchecked_block

POLICY = "role:doctor and (dept:cardio or 2 of (trial:x, trial:y, site:z))"


class KeyedChain:
    """A :class:`ChainFixture` whose genesis deals a domain key and a FAME key (t = 3 of 4)."""

    def __init__(self) -> None:
        self.fx = ChainFixture(nodes=4, seed=b"policy-records")
        group = self.fx.group
        self.params = setup(group)
        secret = DomainSecretKey.generate(self.params)
        self.dealing, _ = deal_domain_key(self.params, secret, self.fx.genesis.threshold, 4)
        self.fame = fame.setup(group)
        domain = DomainKeys(
            epoch=0,
            threshold=self.dealing.threshold,
            public_key=secret.public_key(self.params).to_bytes(),
            verification_keys=tuple(bytes(self.dealing.verification_key(i)) for i in range(1, 5)),
        )
        self.fx.genesis = dataclasses.replace(
            self.fx.genesis, domain=domain, fame_public_key=self.fame.public.to_bytes()
        )
        self.ledger = Ledger.from_store(MemoryStore(), self.fx.genesis)
        self.fx.commit(
            self.ledger,
            [
                self.fx.register("alice"),
                self.fx.register("bob", role=MemberRole.REQUESTER, attributes=("role:doctor",)),
            ],
        )

    def put(
        self,
        record: str,
        policy: str = POLICY,
        *,
        owner: str = "alice",
        sealed_for: str | None = None,
        domain_ciphertext: bytes | None = None,
        epoch: int = 0,
        key_check: bytes | None = b"sealed",
    ) -> PutRecord:
        """``owner``'s signed policy record ``record``; ``sealed_for`` seals the ABE part for
        another record id, ``domain_ciphertext`` replaces the domain part, ``key_check``
        replaces the dual record's key check (``None``: a version 2 record)."""
        fx = self.fx
        record_id = fx.record_id(record)
        sealed_id = fx.record_id(sealed_for or record)
        dual, k_pre = seal_record(self.fame.public, parse(policy), sealed_id, b"metadata")
        if key_check != b"sealed":
            dual = dataclasses.replace(dual, key_check=key_check)
        context = record_context(record_id, fx.member_id(owner), fx.chain_id)
        domain = encrypt_to_domain(
            self.params, self.dealing.public_key, k_pre, record_id, context=context
        )
        tx = dataclasses.replace(
            fx.put_record(owner, record, policy=policy),
            abe_ciphertext=dual.to_bytes(),
            domain_epoch=epoch,
            domain_ciphertext=domain.to_bytes() if domain_ciphertext is None else domain_ciphertext,
        )
        return tx.signed(fx.key_of(owner), fx.chain_id)

    def refused(self, tx: PutRecord, match: str) -> None:
        """Neither a dry run (admission) nor a block carrying ``tx`` applies."""
        fx, ledger = self.fx, self.ledger
        height = ledger.height
        with pytest.raises(InvalidTransaction, match=match):
            fx.next_block(ledger, [tx])
        block = unchecked_block(fx, ledger, [tx])
        with pytest.raises(InvalidTransaction, match=match):
            ledger.apply(block, fx.commit_qc(block))
        assert ledger.height == height


@pytest.fixture
def chain() -> KeyedChain:
    return KeyedChain()


def test_a_policy_record_applies_and_keeps_its_domain_part(chain: KeyedChain) -> None:
    put = chain.put("open")
    chain.fx.commit(chain.ledger, [put])
    entry = chain.ledger.record(chain.fx.record_id("open"))
    assert entry is not None
    assert (entry.policy, entry.domain_epoch) == (POLICY, 0)
    assert entry.domain_ciphertext == put.domain_ciphertext
    assert chain.ledger.domain_keys() == chain.fx.genesis.domain
    assert chain.ledger.domain_keys(0) == chain.fx.genesis.domain
    assert chain.ledger.domain_keys(1) is None


def test_policy_records_need_no_explicit_grant(chain: KeyedChain) -> None:
    fx, ledger = chain.fx, chain.ledger
    fx.commit(ledger, [chain.put("open"), fx.publish_key("bob")])
    request = fx.request("bob", "open", at_ms=fx.time_at(3))
    fx.commit(ledger, [request], [fx.result(request, granted=True)])
    assert ledger.access_count(fx.member_id("bob"), fx.record_id("open")) == 1


def test_a_grant_cannot_name_a_policy_record(chain: KeyedChain) -> None:
    fx, ledger = chain.fx, chain.ledger
    fx.commit(ledger, [chain.put("open"), fx.publish_key("alice"), fx.publish_key("bob")])
    with pytest.raises(InvalidTransaction, match="cannot name a policy record"):
        fx.next_block(ledger, [fx.grant("alice", "open", "bob")])


def test_a_copied_domain_ciphertext_is_refused(chain: KeyedChain) -> None:
    """The lambda-malleability attack: bob publishes his own record whose C1 is alice's,
    copied or scaled; its proof is bound to alice's record, so it does not hold for his."""
    victim = chain.put("victim")
    chain.fx.commit(chain.ledger, [victim])
    stolen = NormalizedCiphertext.from_bytes(chain.params, victim.domain_ciphertext)
    for lam in (1, 3):
        scaled = dataclasses.replace(stolen, c1=stolen.c1 * lam).to_bytes()
        forged = chain.put(f"mine-{lam}", owner="bob", domain_ciphertext=scaled)
        chain.refused(forged, "C1 proof")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"policy": "role:doctor and ("}, "does not parse"),
        ({"abe_ciphertext": b"\x00garbage"}, "not a dual record"),
        ({"domain_ciphertext": b""}, "domain_ciphertext refused"),
        ({"domain_epoch": 1}, "epoch 1, the current epoch is 0"),
        ({"policy": "role:nurse"}, "another policy"),
    ],
)
def test_bad_sharing_content_is_refused(
    chain: KeyedChain, change: dict[str, object], match: str
) -> None:
    tx = dataclasses.replace(chain.put("bad"), **change)  # type: ignore[arg-type]
    chain.refused(tx.signed(chain.fx.key_of("alice"), chain.fx.chain_id), match)


def test_an_abe_part_sealed_for_another_record_is_refused(chain: KeyedChain) -> None:
    chain.refused(chain.put("bad", sealed_for="other"), "another record id")


def test_the_key_check_must_be_a_hash_or_absent(chain: KeyedChain) -> None:
    chain.refused(chain.put("zero", key_check=bytes(32)), "key check is all zero")
    # A version 2 record (sealed before key checks) still applies, as do arbitrary hashes:
    # without K_abe no node can tell a wrong check from the right one.
    legacy, other = chain.put("v2", key_check=None), chain.put("any", key_check=b"\x01" * 32)
    chain.fx.commit(chain.ledger, [legacy, other])
    for name in ("v2", "any"):
        assert chain.ledger.record(chain.fx.record_id(name)) is not None


def test_an_owner_grant_record_carries_no_sharing_ciphertexts(chain: KeyedChain) -> None:
    sealed = chain.put("plain")
    for change in (
        {"policy": ""},
        {"policy": "", "abe_ciphertext": b""},
        {"policy": "", "domain_ciphertext": b""},
        {"policy": "", "abe_ciphertext": b"", "domain_ciphertext": b"", "domain_epoch": 2},
    ):
        tx = dataclasses.replace(sealed, **change)
        chain.refused(tx.signed(chain.fx.key_of("alice"), chain.fx.chain_id), "without a policy")


def test_without_a_domain_key_a_policy_record_is_refused(fx: ChainFixture, ledger: Ledger) -> None:
    with pytest.raises(InvalidTransaction, match="genesis deals a domain key"):
        fx.next_block(ledger, [fx.put_record("alice", "open", policy="role:doctor")])
    assert ledger.domain_keys() is None


def test_the_keyword_hash_keeps_its_bytes() -> None:
    """Records on chain carry these bytes: a change would make old records unfindable."""
    assert NO_KEYWORDS.hex() == ("d47228d21e593d93163faefe1cbb1e74681cc3276aebd1da6c17a5087732ae43")
    assert keywords_hash(("ecg",)).hex() == (
        "5f538a38f02529a609f229996ef1f90706bcaa52d62a7aae04c4d5eda3d8774a"
    )
    assert keywords_hash(("b", "a", "b")) == keywords_hash(("a", "b"))
