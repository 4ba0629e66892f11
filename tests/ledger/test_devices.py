"""Devices on the ledger (issue 14 item 2): RegisterDevice, RekeyDevice, and PutRecord
submitted by a device's edge, each refusal in a block and in admission's dry run alike."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from crypto.abe import DualRecord, fame, seal_record
from crypto.dual import (
    DevicePublicKey,
    DeviceSecretKey,
    DomainPublicKey,
    encrypt_dct,
    reencrypt_ecl,
    rekey_gen,
    setup,
)
from crypto.groups import load_group
from crypto.policy import parse
from crypto.signing import SigningKey
from ledger import devices
from ledger.content import record_context
from ledger.errors import InvalidTransaction
from ledger.genesis import EdgeInfo
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import (
    MemberRole,
    PutRecord,
    RegisterDevice,
    RekeyDevice,
    Transaction,
    device_id_for,
)
from tests.ledger.conftest import unchecked_block
from tests.ledger.test_authority_state import deal, rotation

POLICY = "role:doctor"


class DeviceChain:
    """A 4-node chain whose genesis deals a domain key (epoch 0) and lists two edges, with
    members alice (a patient) and bob (a doctor)."""

    def __init__(self) -> None:
        self.fx = fx = ChainFixture(nodes=4, seed=b"devices")
        self.params = setup(load_group())
        section, _ = deal(fx, 0)
        self.domain_public = {0: DomainPublicKey.from_bytes(self.params, section.public_key)}
        self.fame = fame.setup(fx.group)
        self.edge_keys = {name: SigningKey(bytes([i]) * 32) for i, name in ((7, "edge-a"),
                                                                            (8, "edge-b"))}
        edges = tuple(EdgeInfo(name, key.verify_key.raw) for name, key in self.edge_keys.items())
        fx.genesis = dataclasses.replace(
            fx.genesis, domain=section, fame_public_key=self.fame.public.to_bytes(), edges=edges
        )
        self.ledger = Ledger.from_store(MemoryStore(), fx.genesis)
        fx.commit(self.ledger, [
            fx.register("alice"),
            fx.register("bob", role=MemberRole.REQUESTER, attributes=("role:doctor",)),
        ])
        self.device = DeviceSecretKey.generate(self.params)
        self.device_key = self.device.public_key(self.params).to_bytes()
        self.device_id = device_id_for(self.device_key)

    def register(self, epoch: int = 0, **changes: Any) -> RegisterDevice:
        rekey = rekey_gen(self.params, self.device, self.domain_public[epoch])
        tx = RegisterDevice(
            device_id=self.device_id,
            device_key=self.device_key,
            owner=self.fx.member_id("alice"),
            edge="edge-a",
            domain_epoch=epoch,
            rekey=rekey.to_bytes(),
            registered_at_ms=self.fx.time_at(self.ledger.height + 1),
        )
        return dataclasses.replace(tx, **changes).signed(self.fx.authority_key, self.fx.chain_id)

    def rotate(self, epoch: int) -> None:
        tx = rotation(self.fx, epoch)
        self.domain_public[epoch] = DomainPublicKey.from_bytes(self.params, tx.domain.public_key)
        self.fx.commit(self.ledger, [tx])

    def rekey(self, epoch: int, signer: SigningKey | None = None, **changes: Any) -> RekeyDevice:
        rekey = rekey_gen(self.params, self.device, self.domain_public[epoch])
        tx = RekeyDevice(self.device_id, epoch, rekey.to_bytes(), self.fx.time_at(1))
        tx = dataclasses.replace(tx, **changes)
        return tx.signed(signer or self.fx.authority_key, self.fx.chain_id)

    def device_put(
        self, record: str, *, epoch: int = 0, owner: str = "alice", edge: str = "edge-a",
        **changes: Any,
    ) -> PutRecord:
        """A record the device encrypted and ``edge`` re-encrypted and signed."""
        fx = self.fx
        record_id, owner_id = fx.record_id(record), fx.member_id(owner)
        dual, k_pre = seal_record(self.fame.public, parse(POLICY), record_id, b"metadata")
        context = record_context(record_id, owner_id, fx.chain_id)
        device_public = DevicePublicKey.from_bytes(self.params, self.device_key)
        sealed = encrypt_dct(self.params, device_public, k_pre, record_id, context=context)
        rekey = rekey_gen(self.params, self.device, self.domain_public[epoch])
        normalized = reencrypt_ecl(self.params, sealed, rekey)
        tx = dataclasses.replace(
            fx.put_record(owner, record, policy=POLICY),
            abe_ciphertext=dual.to_bytes(),
            domain_epoch=epoch,
            domain_ciphertext=normalized.to_bytes(),
            device_id=self.device_id,
        )
        tx = dataclasses.replace(tx, **changes)
        return tx.signed(self.edge_keys[edge], fx.chain_id)

    def refused(self, tx: Transaction, match: str) -> InvalidTransaction:
        """Neither a dry run (admission) nor a block carrying ``tx`` applies; the state stays."""
        fx, ledger = self.fx, self.ledger
        height, root = ledger.height, ledger.head().state_root
        with pytest.raises(InvalidTransaction, match=match):
            fx.next_block(ledger, [tx])
        block = unchecked_block(fx, ledger, [tx])
        with pytest.raises(InvalidTransaction, match=match) as caught:
            ledger.apply(block, fx.commit_qc(block))
        assert (ledger.height, ledger.head().state_root) == (height, root)
        return caught.value




@pytest.fixture
def chain() -> DeviceChain:
    return DeviceChain()


# -- RegisterDevice ------------------------------------------------------------------------------


def test_a_registered_device_is_in_state_with_its_rekey(chain: DeviceChain) -> None:
    tx = chain.register()
    chain.fx.commit(chain.ledger, [tx])
    entry = devices.device(chain.ledger.store, chain.device_id)
    assert entry is not None
    assert (entry.owner, entry.edge, entry.registered_epoch) == (
        chain.fx.member_id("alice"), "edge-a", 0
    )
    assert entry.device_key == chain.device_key
    assert entry.tx_id == tx.tx_id()
    rekeys = devices.device_rekeys(chain.ledger.store, entry, 0)
    assert [(r.domain_epoch, r.rekey) for r in rekeys] == [(0, tx.rekey)]


def test_register_device_not_signed_by_the_authority(chain: DeviceChain) -> None:
    tx = chain.register().signed(chain.fx.key_of("alice"), chain.fx.chain_id)
    assert not chain.refused(tx, "not signed by the authority").state_dependent


def test_register_device_for_an_unknown_owner(chain: DeviceChain) -> None:
    tx = chain.register(owner=chain.fx.member_id("nobody"))
    assert chain.refused(tx, "owner .* is not a registered member").state_dependent


def test_register_device_of_an_edge_not_in_the_genesis(chain: DeviceChain) -> None:
    chain.refused(chain.register(edge="edge-z"), "not an edge listed in the genesis")


def test_register_device_with_a_wrong_epoch(chain: DeviceChain) -> None:
    future = chain.register(domain_epoch=1)
    assert chain.refused(future, "current epoch is 0").state_dependent
    chain.rotate(1)
    stale = chain.register(epoch=0)
    assert not chain.refused(stale, "ReKey is for domain epoch 0, the current epoch is 1") \
        .state_dependent


def test_register_device_with_a_bad_rekey(chain: DeviceChain) -> None:
    other = rekey_gen(chain.params, DeviceSecretKey.generate(chain.params), chain.domain_public[0])
    chain.refused(chain.register(rekey=other.to_bytes()), "does not match the device")
    chain.refused(chain.register(rekey=b"junk"), "rekey refused")


def test_register_device_whose_id_is_not_its_key_hash(chain: DeviceChain) -> None:
    chain.refused(chain.register(device_id=bytes(32)), "not the hash of the device key")


def test_register_device_with_a_key_that_does_not_decode(chain: DeviceChain) -> None:
    tx = chain.register(device_key=b"junk", device_id=device_id_for(b"junk"))
    chain.refused(tx, "not a dual-scheme device public key")


def test_a_device_is_registered_once(chain: DeviceChain) -> None:
    chain.fx.commit(chain.ledger, [chain.register()])
    again = chain.register(registered_at_ms=chain.fx.time_at(9))
    assert not chain.refused(again, "already registered").state_dependent
    # Named for a future epoch, it is still "already registered", not retryable.
    future = chain.register(domain_epoch=1, registered_at_ms=chain.fx.time_at(9))
    assert not chain.refused(future, "already registered").state_dependent


# -- RekeyDevice ----------------------------------------------------------------------------------


def test_rotation_keeps_old_rekeys_and_rekey_device_adds_the_new(chain: DeviceChain) -> None:
    first = chain.register()
    chain.fx.commit(chain.ledger, [first])
    chain.rotate(1)
    update = chain.rekey(1)
    chain.fx.commit(chain.ledger, [update])
    entry = devices.device(chain.ledger.store, chain.device_id)
    assert entry is not None
    rekeys = devices.device_rekeys(chain.ledger.store, entry, 1)
    assert [(r.domain_epoch, r.rekey) for r in rekeys] == [(0, first.rekey), (1, update.rekey)]


def test_rekey_device_refusals(chain: DeviceChain) -> None:
    assert chain.refused(chain.rekey(0), "is not registered").state_dependent
    chain.fx.commit(chain.ledger, [chain.register()])
    chain.refused(chain.rekey(0), "already has a ReKey for epoch 0")
    chain.refused(chain.rekey(0, signer=chain.fx.key_of("alice")), "not signed by the authority")
    chain.rotate(1)
    chain.refused(chain.rekey(1, rekey=chain.register().rekey), "does not match the device")
    assert chain.refused(chain.rekey(1, domain_epoch=2), "current epoch is 1").state_dependent


# -- PutRecord from an edge -------------------------------------------------------------------


def test_an_edge_puts_a_device_record_for_its_owner(chain: DeviceChain) -> None:
    chain.fx.commit(chain.ledger, [chain.register()])
    put = chain.device_put("reading")
    assert put.to_bytes()[1] == 3
    chain.fx.commit(chain.ledger, [put])
    entry = chain.ledger.record(chain.fx.record_id("reading"))
    assert entry is not None
    assert entry.owner == chain.fx.member_id("alice")
    assert entry.tx_id == put.tx_id()
    stored = chain.ledger.transaction(put.tx_id())
    assert stored is not None
    assert stored.transaction == put
    # The owner's own records still work, and still encode as version 2.
    own = chain.fx.put_record("alice", "own")
    assert own.to_bytes()[1] == 2
    chain.fx.commit(chain.ledger, [own])


def test_a_device_record_signed_by_another_key(chain: DeviceChain) -> None:
    chain.fx.commit(chain.ledger, [chain.register()])
    by_other_edge = chain.device_put("r", edge="edge-b")
    refusal = chain.refused(by_other_edge, "not signed by the device's edge edge-a")
    assert not refusal.state_dependent
    by_owner = chain.device_put("r").signed(chain.fx.key_of("alice"), chain.fx.chain_id)
    chain.refused(by_owner, "not signed by the device's edge")


def test_a_device_record_for_another_owner(chain: DeviceChain) -> None:
    chain.fx.commit(chain.ledger, [chain.register()])
    chain.refused(chain.device_put("r", owner="bob"), "owner is not the device's owner")


def test_a_record_for_an_unregistered_device(chain: DeviceChain) -> None:
    assert chain.refused(chain.device_put("r"), "is not registered").state_dependent


def test_a_device_record_needs_a_policy(chain: DeviceChain) -> None:
    chain.fx.commit(chain.ledger, [chain.register()])
    bare = chain.device_put("r", policy="", abe_ciphertext=b"", domain_ciphertext=b"")
    chain.refused(bare, "must be a policy record")


def test_a_device_record_under_an_old_epoch(chain: DeviceChain) -> None:
    chain.fx.commit(chain.ledger, [chain.register()])
    chain.rotate(1)
    # No ReKey for epoch 1 yet: the edge cannot have normalized under it.
    assert chain.refused(chain.device_put("new", epoch=1), "no ReKey for domain epoch 1") \
        .state_dependent
    # Under epoch 0 the device has a ReKey, but new records must use the current epoch.
    chain.refused(chain.device_put("old", epoch=0), "the current epoch is 1")
    chain.fx.commit(chain.ledger, [chain.rekey(1)])
    chain.fx.commit(chain.ledger, [chain.device_put("new", epoch=1)])


def test_a_device_record_under_a_past_epoch_it_has_no_rekey_for(chain: DeviceChain) -> None:
    """Registered after a rotation, the device never gets a ReKey for the earlier epoch: a
    record under it can never become valid, so the refusal is not retryable."""
    chain.rotate(1)
    chain.fx.commit(chain.ledger, [chain.register(epoch=1)])
    old = chain.refused(chain.device_put("old", epoch=0), "no ReKey for domain epoch 0")
    assert not old.state_dependent


def test_a_device_record_needs_the_key_check_of_a_version_3_dual_record(
    chain: DeviceChain,
) -> None:
    """Without the key check the fetch-token ABE binding would be skipped for the record."""
    chain.fx.commit(chain.ledger, [chain.register()])
    put = chain.device_put("r")
    dual = DualRecord.from_bytes(put.abe_ciphertext, chain.fx.group)
    assert dual.key_check is not None
    down = dataclasses.replace(dual, key_check=None).to_bytes()
    assert down[1] == 2
    chain.refused(chain.device_put("r", abe_ciphertext=down), "must carry a key check")
    assert chain.ledger.record(chain.fx.record_id("r")) is None
    chain.fx.commit(chain.ledger, [put])


def test_a_device_record_keeps_the_c1_proof_binding(chain: DeviceChain) -> None:
    """The device's proof is bound to the record id: a ciphertext made for one record and
    submitted as another is refused, as for an owner's own record."""
    chain.fx.commit(chain.ledger, [chain.register()])
    made_for_a = chain.device_put("a")
    moved = chain.device_put("b", domain_ciphertext=made_for_a.domain_ciphertext)
    chain.refused(moved, "domain_ciphertext refused")
