"""Policy records without a network: the owner seals, t simulated nodes answer, the requester
opens; either half alone (approval without a matching attribute key, a key without approval)
gives a typed error and no data."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from client import AccessDenied, IntegrityError, MemberKeys, NodeClient
from client.metadata import RecordMetadata
from client.policy_records import (
    AttributeKeyMismatch,
    DomainKey,
    NetworkKeys,
    PolicyRecordError,
    PolicyRecordView,
    is_policy_record,
    open_policy_metadata,
    open_pre_part,
    parse_policy,
    record_context,
    seal_policy_parts,
)
from client.requester import Decision, open_metadata
from client.session import Session
from crypto.abe import FameMasterKey, FameSecretKey, keygen
from crypto.abe import setup as fame_setup
from crypto.dual import (
    DecryptionRequest,
    DomainKeyDealing,
    DomainKeyShare,
    DomainSecretKey,
    DualParams,
    combine_decryption_shares,
    deal_domain_key,
    decryption_share,
    setup,
    verify_ciphertext,
    verify_decryption_share,
)
from crypto.groups import Group, load_group

CHAIN = "policy-test-chain"
POLICY = "role:doctor and 2 of (dept:cardiology, trial:x, site:z)"
DOCTOR = ("role:doctor", "dept:cardiology", "site:z")
NURSE = ("role:nurse", "dept:cardiology", "site:z", "trial:x")


@dataclass
class Network:
    """The authority's keys, as a genesis and the nodes' homes would hold them."""

    params: DualParams
    fame: FameMasterKey
    dealing: DomainKeyDealing
    shares: list[DomainKeyShare]

    @property
    def keys(self) -> NetworkKeys:
        return NetworkKeys(self.fame.public, DomainKey(0, self.dealing.public_key))

    def combined(self, record: PolicyRecordView, requester: MemberKeys, request_id: bytes) -> bytes:
        """What the leader puts in a granted decision: t verified node shares, combined."""
        context = record_context(record.record_id, record.owner, CHAIN)
        verified = verify_ciphertext(self.params, record.domain, context)
        request = DecryptionRequest(
            self.params, verified, requester.tpre_public_key.x1, request_id
        )
        answers = [
            verify_decryption_share(
                self.params, self.dealing, request, decryption_share(self.params, share, request)
            )
            for share in self.shares[: self.dealing.threshold]
        ]
        return bytes(combine_decryption_shares(self.params, self.dealing, answers))


@pytest.fixture(scope="module")
def group() -> Group:
    return load_group("mcl")


@pytest.fixture(scope="module")
def network(group: Group) -> Network:
    params = setup(group)
    dealing, shares = deal_domain_key(params, DomainSecretKey.generate(params), 3, 4)
    return Network(params, fame_setup(group), dealing, list(shares))


@pytest.fixture(scope="module")
def owner(group: Group) -> MemberKeys:
    return MemberKeys.generate(group)


@pytest.fixture(scope="module")
def requester(group: Group) -> MemberKeys:
    return MemberKeys.generate(group)


def metadata() -> RecordMetadata:
    return RecordMetadata(
        dek=secrets.token_bytes(32),
        file_digest=secrets.token_bytes(32),
        size=1234,
        commitment_digest=secrets.token_bytes(32),
        name="ecg.csv",
    )


def record_document(network: Network, owner: MemberKeys, meta: RecordMetadata) -> dict[str, Any]:
    """A policy record as GET /records/{id} shows it."""
    record_id = secrets.token_bytes(32)
    context = record_context(record_id, owner.member_id, CHAIN)
    parts = seal_policy_parts(network.params, network.keys, parse_policy(POLICY), context, meta)
    return {
        "record_id": record_id.hex(),
        "owner": owner.member_id.hex(),
        "policy": POLICY,
        "abe_ciphertext": parts.abe_ciphertext.hex(),
        "domain_epoch": parts.domain_epoch,
        "domain_ciphertext": parts.domain_ciphertext.hex(),
    }


def attribute_key(network: Network, attributes: tuple[str, ...]) -> FameSecretKey:
    return keygen(network.fame, attributes)


def test_a_satisfying_member_with_approval_opens_the_metadata(
    network: Network, owner: MemberKeys, requester: MemberKeys
) -> None:
    meta = metadata()
    document = record_document(network, owner, meta)
    assert is_policy_record(document)
    record = PolicyRecordView.from_json(document, network.params)
    request_id = secrets.token_bytes(32)
    combined = network.combined(record, requester, request_id)
    pre = open_pre_part(network.params, record, CHAIN, requester.tpre_secret, request_id, combined)
    opened = open_policy_metadata(
        network.fame.public, record, attribute_key(network, DOCTOR), pre
    )
    assert opened == meta


def test_approval_without_a_matching_attribute_key_opens_nothing(
    network: Network, owner: MemberKeys, requester: MemberKeys
) -> None:
    document = record_document(network, owner, metadata())
    record = PolicyRecordView.from_json(document, network.params)
    request_id = secrets.token_bytes(32)
    combined = network.combined(record, requester, request_id)
    pre = open_pre_part(network.params, record, CHAIN, requester.tpre_secret, request_id, combined)
    # The nurse has three of the four attributes, but not role:doctor.
    with pytest.raises(AttributeKeyMismatch, match="does not satisfy"):
        open_policy_metadata(network.fame.public, record, attribute_key(network, NURSE), pre)
    assert issubclass(AttributeKeyMismatch, AccessDenied)


def test_a_combined_value_for_another_requester_or_request_opens_nothing(
    network: Network, owner: MemberKeys, requester: MemberKeys, group: Group
) -> None:
    record = PolicyRecordView.from_json(record_document(network, owner, metadata()), network.params)
    request_id = secrets.token_bytes(32)
    someone_else = MemberKeys.generate(group)
    theirs = network.combined(record, someone_else, request_id)
    with pytest.raises(IntegrityError):
        open_pre_part(network.params, record, CHAIN, requester.tpre_secret, request_id, theirs)
    mine = network.combined(record, requester, request_id)
    # The request id is the proofs' context; the value itself does not depend on it, the
    # requester's key does. Garbage is refused before any pairing arithmetic.
    with pytest.raises(IntegrityError):
        open_pre_part(network.params, record, CHAIN, requester.tpre_secret, request_id, b"\x01" * 8)
    assert open_pre_part(network.params, record, CHAIN, requester.tpre_secret, request_id, mine)


def test_a_domain_ciphertext_bound_to_another_record_is_refused(
    network: Network, owner: MemberKeys, requester: MemberKeys
) -> None:
    first = record_document(network, owner, metadata())
    second = record_document(network, owner, metadata())
    # A node serving record 2 with record 1's domain half, and the value the nodes made for
    # record 1: the proof names record 1, so nothing is decrypted.
    genuine = PolicyRecordView.from_json(first, network.params)
    combined = network.combined(genuine, requester, bytes(32))
    swapped = PolicyRecordView.from_json(
        {**second, "domain_ciphertext": first["domain_ciphertext"]}, network.params
    )
    with pytest.raises(IntegrityError, match="proof does not hold"):
        open_pre_part(network.params, swapped, CHAIN, requester.tpre_secret, bytes(32), combined)
    with pytest.raises(IntegrityError, match="proof does not hold"):
        open_pre_part(
            network.params, genuine, "other-chain", requester.tpre_secret, bytes(32), combined
        )
    assert open_pre_part(network.params, genuine, CHAIN, requester.tpre_secret, bytes(32), combined)


def test_malformed_and_owner_grant_record_answers_are_refused(
    network: Network, owner: MemberKeys
) -> None:
    document = record_document(network, owner, metadata())
    plain = {**document, "policy": "", "abe_ciphertext": "", "domain_ciphertext": ""}
    assert not is_policy_record(plain)
    with pytest.raises(IntegrityError, match="not a policy record"):
        PolicyRecordView.from_json(plain, network.params)
    with pytest.raises(IntegrityError, match="malformed"):
        PolicyRecordView.from_json({**document, "abe_ciphertext": "zz"}, network.params)
    with pytest.raises(IntegrityError, match="do not decode"):
        PolicyRecordView.from_json({**document, "domain_ciphertext": "00" * 40}, network.params)
    other = record_document(network, owner, metadata())
    with pytest.raises(IntegrityError, match="another record"):
        PolicyRecordView.from_json(
            {**document, "abe_ciphertext": other["abe_ciphertext"]}, network.params
        )


@pytest.mark.parametrize(
    ("text", "position"),
    [("role:doctor and", 15), ("role:doctor or (dept:x", 22), ("2 of (a:b)", 0)],
)
def test_policy_errors_show_their_position(text: str, position: int) -> None:
    with pytest.raises(PolicyRecordError) as caught:
        parse_policy(text)
    message = str(caught.value)
    assert f"at position {position}" in message
    assert message.splitlines()[-1] == "  " + " " * position + "^"


def test_an_attribute_key_without_approval_gets_nothing(
    group: Group, requester: MemberKeys
) -> None:
    """A denied decision stops the flow before the record or any key is even looked at."""
    looked: list[str] = []

    def key() -> FameSecretKey:
        looked.append("key")
        raise AssertionError("the attribute key must not be needed")

    denied = Decision(
        request_id="ab" * 32, status="denied", height=7, reencrypted=b"",
        reason="attributes do not satisfy the policy", requester=requester.member_id.hex(),
        record_id="cd" * 32,
    )
    with NodeClient("http://127.0.0.1:9") as client:  # never contacted
        session = Session(client, group)
        with pytest.raises(AccessDenied, match="denied: attributes do not satisfy"):
            open_metadata(session, requester, bytes.fromhex("cd" * 32), denied, key)
    assert looked == []
