"""Policy records without a network: the owner seals, t simulated nodes answer, the requester
opens; either half alone (approval without a matching attribute key, a key without approval)
gives a typed error and no data."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import httpx
import pytest

from client import AccessDenied, IntegrityError, MemberKeys, NodeClient
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
from ledger.record_metadata import RecordMetadata
from ledger.transactions import PutRecord

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


def put_record(network: Network, owner: MemberKeys, meta: RecordMetadata) -> PutRecord:
    """A policy record's PutRecord, as the owner's client builds it."""
    record_id = secrets.token_bytes(32)
    context = record_context(record_id, owner.member_id, CHAIN)
    parts = seal_policy_parts(network.params, network.keys, parse_policy(POLICY), context, meta)
    return PutRecord(
        record_id=record_id,
        owner=owner.member_id,
        keywords_hash=bytes(32),
        policy=POLICY,
        access_limit=5,
        metadata_ciphertext=b"sealed to the owner",
        storage_commitments=b"",
        abe_ciphertext=parts.abe_ciphertext,
        domain_epoch=parts.domain_epoch,
        domain_ciphertext=parts.domain_ciphertext,
        created_at_ms=1,
    )


def view(tx: PutRecord, network: Network) -> PolicyRecordView:
    return PolicyRecordView.from_put(tx, network.params)


def attribute_key(network: Network, attributes: tuple[str, ...]) -> FameSecretKey:
    return keygen(network.fame, attributes)


def test_a_satisfying_member_with_approval_opens_the_metadata(
    network: Network, owner: MemberKeys, requester: MemberKeys
) -> None:
    meta = metadata()
    tx = put_record(network, owner, meta)
    assert tx.domain_epoch == 0
    record = view(tx, network)
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
    record = view(put_record(network, owner, metadata()), network)
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
    record = view(put_record(network, owner, metadata()), network)
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
    first = put_record(network, owner, metadata())
    second = put_record(network, owner, metadata())
    # A node serving record 2 with record 1's domain half, and the value the nodes made for
    # record 1: the proof names record 1, so nothing is decrypted.
    genuine = view(first, network)
    combined = network.combined(genuine, requester, bytes(32))
    swapped = view(replace(second, domain_ciphertext=first.domain_ciphertext), network)
    with pytest.raises(IntegrityError, match="proof does not hold"):
        open_pre_part(network.params, swapped, CHAIN, requester.tpre_secret, bytes(32), combined)
    with pytest.raises(IntegrityError, match="proof does not hold"):
        open_pre_part(
            network.params, genuine, "other-chain", requester.tpre_secret, bytes(32), combined
        )
    assert open_pre_part(network.params, genuine, CHAIN, requester.tpre_secret, bytes(32), combined)


def test_owner_grant_and_malformed_records_are_refused(
    network: Network, owner: MemberKeys
) -> None:
    tx = put_record(network, owner, metadata())
    assert is_policy_record({"policy": POLICY})
    assert not is_policy_record({"policy": ""})
    plain = replace(tx, policy="", abe_ciphertext=b"", domain_ciphertext=b"")
    with pytest.raises(IntegrityError, match="not a policy record"):
        view(plain, network)
    with pytest.raises(IntegrityError, match="do not decode"):
        view(replace(tx, abe_ciphertext=b"\x00" * 40), network)
    with pytest.raises(IntegrityError, match="do not decode"):
        view(replace(tx, domain_ciphertext=b"\x00" * 40), network)
    other = put_record(network, owner, metadata())
    with pytest.raises(IntegrityError, match="another record"):
        view(replace(tx, abe_ciphertext=other.abe_ciphertext), network)


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


def test_the_committed_put_record_is_read_once_and_checked(
    network: Network, owner: MemberKeys, group: Group
) -> None:
    """The client reads a policy record's halves from its committed PutRecord, whose id must
    be the record's transaction id and which must publish that very record."""
    tx = put_record(network, owner, metadata()).signed(owner.signing_key, CHAIN)
    other = put_record(network, owner, metadata()).signed(owner.signing_key, CHAIN)
    served = {"tx": tx}
    asked: list[str] = []

    def node(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.startswith("/records/"):
            return httpx.Response(200, json={"tx_id": tx.tx_id().hex(), "policy": POLICY})
        return httpx.Response(200, json={"raw": served["tx"].to_bytes().hex()})

    with NodeClient("http://node", transport=httpx.MockTransport(node)) as client:
        session = Session(client, group)
        assert session.committed_put(tx.record_id) == tx
        assert session.committed_put(tx.record_id) == tx
        assert len(asked) == 2  # one record answer, one transaction answer
        served["tx"] = other  # a node answering with another record's PutRecord
        with pytest.raises(IntegrityError, match="not its PutRecord"):
            Session(client, group).committed_put(tx.record_id)
