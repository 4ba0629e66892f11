"""A small chain with something on every explorer page, built on a live network through the
client library: an owner, a doctor whose attributes are hostile HTML, a stranger; one record
with a policy, a grant, a granted request and a denied one, and an attribute change."""

from __future__ import annotations

from dataclasses import dataclass

from client import MemberKeys, NodeClient
from client.authority import change_attributes, register_member
from client.member import publish_tpre_key
from client.owner import put_file
from client.requester import request_access, wait_decision
from client.session import Session
from crypto.groups import Group
from ledger.transactions import MemberRole
from tests.client.live_network import LiveNetwork

#: Would run if the page ever put it into HTML instead of text.
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
DECISION_TIMEOUT = 30.0


@dataclass(frozen=True)
class SampleChain:
    owner: MemberKeys
    doctor: MemberKeys
    stranger: MemberKeys
    record_id: bytes
    granted_request: str
    denied_request: str


def _member(
    session: Session, live: LiveNetwork, role: MemberRole, attributes: list[str]
) -> MemberKeys:
    keys = MemberKeys.generate(session.group, role)
    register_member(session, live.network.authority_key(), keys.public(), attributes=attributes)
    publish_tpre_key(session, keys)
    return keys


def build_sample(live: LiveNetwork, group: Group) -> SampleChain:
    """Write the sample onto ``live`` through node 1; returns what it made."""
    with NodeClient(live.url) as client:
        session = Session(client, group)
        owner = _member(session, live, MemberRole.OWNER, ["role:owner"])
        doctor = _member(session, live, MemberRole.REQUESTER, ["role:doctor", HOSTILE])
        stranger = _member(session, live, MemberRole.REQUESTER, ["role:nurse"])
        change_attributes(
            session,
            live.network.authority_key(),
            doctor.member_id,
            ["role:doctor", "dept:cardio", HOSTILE],
            reason="moved to <b>cardiology</b>",
        )
        stored = put_file(
            session, owner, b"ECG trace " * 300, name="ecg.bin", keywords=["ecg"],
            policy="role:doctor",
        )
        # A policy record is shared by its policy: the doctor's role satisfies it, no grant.
        granted = request_access(session, doctor, stored.record_id)
        assert wait_decision(session, granted, DECISION_TIMEOUT).status == "granted"
        denied = request_access(session, stranger, stored.record_id)
        assert wait_decision(session, denied, DECISION_TIMEOUT).status == "denied"
    return SampleChain(owner, doctor, stranger, stored.record_id, granted, denied)


def register_one(live: LiveNetwork, group: Group, attributes: list[str]) -> tuple[bytes, int]:
    """Register one more member and wait for its commit; returns its id and the height."""
    with NodeClient(live.url) as client:
        session = Session(client, group)
        keys = MemberKeys.generate(group, MemberRole.REQUESTER)
        answer = register_member(
            session, live.network.authority_key(), keys.public(), attributes=attributes
        )
        committed = client.tx(answer["tx_id"], wait=DECISION_TIMEOUT)
    return keys.member_id, int(committed["height"])
