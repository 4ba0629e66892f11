"""The ABE binding a requester puts in a policy record's fetch token: every sealer commits its
key check, only a matching attribute key makes the binding, and a record sealed before key
checks (dual record version 2) takes none."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from client.device_upload import DeviceProfile, make_upload
from client.devices import device_keys
from client.errors import IntegrityError
from client.policy_records import (
    AttributeKeyMismatch,
    PolicyRecordView,
    abe_binding_for,
    parse_policy,
    recover_abe,
    seal_policy_parts,
)
from client.requester import fetch_ciphertext
from crypto.abe import DualRecord, abe_binding, keygen, recover_abe_part
from crypto.abe import setup as fame_setup
from crypto.abe.dual import binding_matches, key_check
from crypto.dual import DeviceSecretKey, DomainSecretKey, deal_domain_key, setup
from crypto.groups import load_group
from crypto.light.bridge import seal_for_domain
from crypto.tpre import UserSecretKey
from ledger.content import record_context
from ledger.record_metadata import RecordMetadata
from node.http.routes import access_token_from_body
from tests.client.test_fetch_via_edge import setup as fetch_setup
from tests.client.test_policy_records import CHAIN, DOCTOR, NURSE, POLICY, Network


@pytest.fixture(scope="module")
def net() -> Network:
    group = load_group("mcl")
    params = setup(group)
    dealing, shares = deal_domain_key(params, DomainSecretKey.generate(params), 3, 4)
    return Network(params, fame_setup(group), dealing, list(shares))


def sealed(net: Network) -> PolicyRecordView:
    """A policy record as an owner's client seals it (``seal_policy_parts``), decoded."""
    record_id, owner = secrets.token_bytes(32), secrets.token_bytes(32)
    context = record_context(record_id, owner, CHAIN)
    sealed = seal_for_domain(
        net.params, net.fame.public, net.dealing.public_key, parse_policy(POLICY),
        context, b"metadata",
    )
    dual = DualRecord.from_bytes(sealed.dual.to_bytes(), net.params.group)
    return PolicyRecordView(record_id, owner, POLICY, dual, sealed.domain)


def test_a_doctor_makes_the_binding_the_record_checks(net: Network) -> None:
    record = sealed(net)
    assert record.dual.key_check is not None
    abe_part = recover_abe(net.fame.public, record, keygen(net.fame, DOCTOR))
    binding = abe_binding_for(record, abe_part)
    assert binding == abe_binding(record.record_id, abe_part)
    assert binding_matches(record.dual.key_check, binding)


def test_a_nurse_cannot_make_a_binding(net: Network) -> None:
    with pytest.raises(AttributeKeyMismatch, match="does not satisfy"):
        recover_abe(net.fame.public, sealed(net), keygen(net.fame, NURSE))


def test_the_owners_sealer_commits_a_key_check(net: Network) -> None:
    context = record_context(secrets.token_bytes(32), secrets.token_bytes(32), CHAIN)
    metadata = RecordMetadata(
        dek=bytes(32), file_digest=bytes(32), size=1, commitment_digest=bytes(32), name="x"
    )
    parts = seal_policy_parts(net.params, net.keys, parse_policy(POLICY), context, metadata)
    dual = DualRecord.from_bytes(parts.abe_ciphertext, net.params.group)
    assert dual.key_check is not None
    assert parts.abe_ciphertext[1] == 3  # dual record version 3


def test_a_devices_upload_commits_a_key_check(net: Network) -> None:
    group = net.params.group
    device = device_keys(group, DeviceSecretKey.generate(net.params))
    owner_tpre = UserSecretKey(group, group.random_scalar()).public_key()
    profile = DeviceProfile(
        1, CHAIN, device.device_id.hex(), secrets.token_bytes(32).hex(),
        owner_tpre.to_bytes().hex(), secrets.token_bytes(32).hex(),
        net.fame.public.to_bytes().hex(), 3, 4,
    )
    upload = make_upload(group, profile, device, b"spo2=97", policy=POLICY)
    dual = DualRecord.from_bytes(upload.abe_ciphertext, group)
    abe_part = recover_abe_part(net.fame.public, keygen(net.fame, DOCTOR), dual)
    assert dual.key_check == key_check(abe_binding(upload.record_id, abe_part))


def test_a_record_without_a_key_check_takes_no_binding(net: Network) -> None:
    record = sealed(net)
    abe_part = recover_abe(net.fame.public, record, keygen(net.fame, DOCTOR))
    legacy = dataclasses.replace(record, dual=dataclasses.replace(record.dual, key_check=None))
    assert abe_binding_for(legacy, abe_part) is None


def test_a_record_sealed_with_a_wrong_check_is_caught_before_fetching(net: Network) -> None:
    record = sealed(net)
    abe_part = recover_abe(net.fame.public, record, keygen(net.fame, DOCTOR))
    wrong = dataclasses.replace(record, dual=dataclasses.replace(record.dual, key_check=bytes(32)))
    with pytest.raises(IntegrityError, match="key check does not match"):
        abe_binding_for(wrong, abe_part)


def test_the_binding_goes_into_the_signed_token() -> None:
    session, requester, record_id, decision, node = fetch_setup()
    binding = secrets.token_bytes(32)
    fetch_ciphertext(session, requester, record_id, decision, abe_binding=binding)
    fetch_ciphertext(session, requester, record_id, decision)
    bound, plain = node.sent
    assert (bound["abe_binding"], plain["abe_binding"]) == (binding.hex(), None)
    token = access_token_from_body(record_id, bound)
    assert token.abe_binding == binding
    token.verify_signature(requester.signing_key.verify_key, session.chain_id)
