"""The client library's flows end to end against real nodes: a 4-node, threshold-3 testnet run
in-process (tests/client/live_network.py), its real HTTP routes over real ledgers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from client import (
    AccessDenied,
    IntegrityError,
    MemberKeys,
    NodeClient,
    NodeError,
    RequestMismatch,
    UnknownRequest,
)
from client.authority import change_attributes, register_member
from client.member import publish_tpre_key
from client.owner import grant_access, put_file, revoke_access
from client.requester import (
    fetch_and_decrypt,
    fetch_ciphertext,
    request_access,
    wait_decision,
)
from client.session import Session
from crypto.groups import Group, load_group
from ledger.record_metadata import keywords_hash
from ledger.transactions import MemberRole
from tests.client.live_network import CountingTransport, LiveNetwork, live_network

DECISION_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def group() -> Group:
    return load_group("mcl")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetwork]:
    # One network for the module: every test makes its own members and records.
    with live_network(tmp_path_factory.mktemp("flows") / "net", 4, threshold=3) as running:
        yield running


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def session(live: LiveNetwork, group: Group, transport: CountingTransport) -> Iterator[Session]:
    with NodeClient(live.url, transport=transport) as client:
        yield Session(client, group)


def _member(session: Session, live: LiveNetwork, role: MemberRole) -> MemberKeys:
    keys = MemberKeys.generate(session.group, role)
    authority = live.network.authority_key()
    register_member(session, authority, keys.public(), attributes=["role:doctor"])
    publish_tpre_key(session, keys)
    return keys


def test_owner_shares_a_file_with_a_requester(session: Session, live: LiveNetwork) -> None:
    owner = _member(session, live, MemberRole.OWNER)
    doctor = _member(session, live, MemberRole.REQUESTER)
    data = b"ECG trace " * 500
    stored = put_file(session, owner, data, name="ecg.bin", keywords=["ecg", "2026"])
    assert stored.fragments_stored == 4
    assert stored.commitment.threshold == 3
    grant = grant_access(session, owner, stored.record_id, doctor.member_id)
    assert grant["threshold"] == 3

    request_id = request_access(session, doctor, stored.record_id)
    decision = wait_decision(session, request_id, timeout=DECISION_TIMEOUT)
    assert decision.status == "granted"
    plain, metadata = fetch_and_decrypt(session, doctor, stored.record_id, decision)
    assert plain == data
    assert metadata.name == "ecg.bin"
    audit = session.client.audit(record=stored.record_id.hex())
    assert [(e["requester"], e["decision"]) for e in audit] == [
        (doctor.member_id.hex(), "granted")
    ]


def test_every_node_serves_the_data_it_shares(
    session: Session, live: LiveNetwork, group: Group
) -> None:
    owner = _member(session, live, MemberRole.OWNER)
    doctor = _member(session, live, MemberRole.REQUESTER)
    stored = put_file(session, owner, b"vitals " * 300)
    grant_access(session, owner, stored.record_id, doctor.member_id)
    decision = wait_decision(
        session, request_access(session, doctor, stored.record_id), DECISION_TIMEOUT
    )
    # Fragments went to every node; any of them gathers t and rebuilds the ciphertext.
    for url in live.urls[1:]:
        with NodeClient(url) as client:
            other = Session(client, group)
            plain, _ = fetch_and_decrypt(other, doctor, stored.record_id, decision)
            assert plain == b"vitals " * 300


def test_a_session_asks_for_a_record_once_for_many_requests(
    session: Session, live: LiveNetwork, transport: CountingTransport
) -> None:
    owner = _member(session, live, MemberRole.OWNER)
    doctor = _member(session, live, MemberRole.REQUESTER)
    stored = put_file(session, owner, b"x" * 100, keywords=["ecg"])
    grant_access(session, owner, stored.record_id, doctor.member_id)
    transport.paths.clear()
    for _ in range(3):
        wait_decision(session, request_access(session, doctor, stored.record_id), 30)
    record_path = ("GET", f"/records/{stored.record_id.hex()}")
    assert transport.paths.count(record_path) == 1
    assert session.keywords_hash(stored.record_id) == keywords_hash(["ecg"])


def test_revoked_requester_is_denied(session: Session, live: LiveNetwork) -> None:
    owner = _member(session, live, MemberRole.OWNER)
    doctor = _member(session, live, MemberRole.REQUESTER)
    stored = put_file(session, owner, b"x" * 100)
    grant_access(session, owner, stored.record_id, doctor.member_id)
    revoke_access(session, owner, stored.record_id, doctor.member_id)
    decision = wait_decision(
        session, request_access(session, doctor, stored.record_id), DECISION_TIMEOUT
    )
    assert decision.status == "denied"
    with pytest.raises(AccessDenied, match="denied"):
        fetch_and_decrypt(session, doctor, stored.record_id, decision)
    with pytest.raises(AccessDenied, match="refused the data"):
        fetch_ciphertext(session, doctor, stored.record_id, decision)


def test_another_member_cannot_open_a_granted_result(session: Session, live: LiveNetwork) -> None:
    owner = _member(session, live, MemberRole.OWNER)
    doctor = _member(session, live, MemberRole.REQUESTER)
    stranger = _member(session, live, MemberRole.REQUESTER)
    stored = put_file(session, owner, b"secret vitals")
    grant_access(session, owner, stored.record_id, doctor.member_id)
    decision = wait_decision(
        session, request_access(session, doctor, stored.record_id), DECISION_TIMEOUT
    )
    # Said plainly before any decryption is tried...
    with pytest.raises(RequestMismatch, match=f"made by member {doctor.member_id.hex()}"):
        fetch_and_decrypt(session, stranger, stored.record_id, decision)
    with pytest.raises(RequestMismatch, match=f"for record {stored.record_id.hex()}"):
        fetch_and_decrypt(session, doctor, bytes(32), decision)
    # ...and a decision that claims the stranger asked still does not open for it.
    forged = dataclasses.replace(decision, requester=stranger.member_id.hex())
    with pytest.raises(IntegrityError, match="re-encrypted metadata"):
        fetch_and_decrypt(session, stranger, stored.record_id, forged)


def test_an_unknown_request_is_reported_without_a_long_poll(
    session: Session, transport: CountingTransport
) -> None:
    unknown = "ab" * 32
    transport.paths.clear()
    with pytest.raises(UnknownRequest, match="neither committed nor pending"):
        wait_decision(session, unknown, timeout=DECISION_TIMEOUT, unknown_grace=0)
    assert transport.paths == [("GET", f"/requests/{unknown}")]


def test_grant_needs_a_published_tpre_key(session: Session, live: LiveNetwork) -> None:
    owner = _member(session, live, MemberRole.OWNER)
    silent = MemberKeys.generate(session.group, MemberRole.REQUESTER)
    register_member(session, live.network.authority_key(), silent.public())
    stored = put_file(session, owner, b"data")
    with pytest.raises(IntegrityError, match="publish-key"):
        grant_access(session, owner, stored.record_id, silent.member_id)


def test_only_the_genesis_authority_registers(session: Session, group: Group) -> None:
    impostor = MemberKeys.generate(group).signing_key
    member = MemberKeys.generate(group).public()
    with pytest.raises(IntegrityError, match="not the authority"):
        register_member(session, impostor, member)
    with pytest.raises(IntegrityError, match="not the authority"):
        change_attributes(session, impostor, member.member_id, ["x"])


def test_node_errors_carry_the_server_code(session: Session) -> None:
    with pytest.raises(NodeError) as info:
        session.client.record("00" * 32)
    assert info.value.status == 404
    assert info.value.code == "not_found"
    with pytest.raises(NodeError) as bad:
        session.client.submit_tx(b"\x01garbage")
    assert (bad.value.status, bad.value.code) == (400, "malformed")
