"""The testnet side of ``bench e2e``: the record and requesters a run uses, and the client that
makes one request at a time (shared by the low-load, burst and sustained measurements).

With ``policy``, the requesters are registered with attributes that satisfy
:data:`POLICY`, get their attribute keys from the authority directory's FAME master key, and a
second record of the same size is put under that policy (``--policy``, :mod:`bench.e2e_policy`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from client import AccessDenied, MemberKeys, NodeClient
from client.attribute_keys import issue_attribute_key
from client.authority import register_member
from client.member import publish_tpre_key
from client.owner import grant_access, put_file
from client.policy_records import (
    PolicyRecordView,
    network_keys,
    open_pre_part,
    open_with_parts,
    recover_abe,
)
from client.requester import fetch_and_decrypt, open_metadata, request_access, wait_decision
from client.session import Session
from crypto.abe import FameSecretKey
from crypto.dual import setup
from crypto.groups import Group
from crypto.signing import SigningKey
from ledger.transactions import MemberRole
from node.ceremony import load_fame_master
from testnet.layout import Network

#: Requests per requester are never the limit in a benchmark.
ACCESS_LIMIT = 1_000_000
#: A policy of the size the issue names: an and, an or and a k-of-n gate (five leaves).
POLICY = "role:doctor and (dept:cardiology or 2 of (trial:x, trial:y, site:z))"
#: Satisfies :data:`POLICY` through the 2-of-3 gate (the costlier branch for FAME).
ATTRIBUTES = ("role:doctor", "trial:x", "site:z")


@dataclass(frozen=True, slots=True)
class Fixture:
    """The network, one record and the requesters granted on it."""

    network: Network
    record_id: bytes
    requesters: tuple[MemberKeys, ...]
    #: The record put under :data:`POLICY` and each requester's attribute key (``policy`` runs).
    policy_record_id: bytes | None = None
    attribute_keys: tuple[FameSecretKey, ...] = ()


def prepare(
    network: Network, group: Group, requesters: int, size: int, *, policy: bool = False
) -> Fixture:
    """Register an owner and ``requesters`` requesters, store one record, grant them all; with
    ``policy``, also a record under :data:`POLICY` and the requesters' attribute keys."""
    authority = network.authority_key()
    with NodeClient(network.nodes[0].http_url, timeout=30) as client:
        session = Session(client, group)
        owner = MemberKeys.generate(group, MemberRole.OWNER)
        members = [MemberKeys.generate(group, MemberRole.REQUESTER) for _ in range(requesters)]
        attributes = ATTRIBUTES if policy else ()
        enroll(session, authority, [(owner, ()), *((m, attributes) for m in members)])
        stored = put_file(session, owner, b"\x5a" * size, access_limit=ACCESS_LIMIT, timeout=60)
        granted = [
            grant_access(session, owner, stored.record_id, keys.member_id, wait=False)["tx_id"]
            for keys in members
        ]
        for tx_id in granted:
            session.wait_committed(tx_id, 60)
        if not policy:
            return Fixture(network, stored.record_id, tuple(members))
        under_policy = put_file(
            session, owner, b"\x5a" * size, access_limit=ACCESS_LIMIT, policy=POLICY, timeout=60
        )
        master = load_fame_master(network.authority_dir, group)
        keys = tuple(
            issue_attribute_key(session, authority, master, m.member_id).open(m.box_key, group)
            for m in members
        )
    return Fixture(network, stored.record_id, tuple(members), under_policy.record_id, keys)


def enroll(
    session: Session,
    authority: SigningKey,
    members: Sequence[tuple[MemberKeys, Sequence[str]]],
    timeout: float = 60.0,
) -> None:
    """Register each ``(keys, attributes)`` with the authority key and publish its TPRE key.

    Everything of one kind is submitted before any commit is waited for, so the commits share
    blocks. Raises the client's errors (:class:`~client.errors.WaitTimeout` after ``timeout``
    seconds for one commit).
    """
    registered = [
        register_member(session, authority, keys.public(), wait=False,
                        attributes=attributes)["tx_id"]
        for keys, attributes in members
    ]
    for tx_id in registered:
        session.wait_committed(tx_id, timeout)
    published = [publish_tpre_key(session, keys, wait=False)["tx_id"] for keys, _ in members]
    for tx_id in published:
        session.wait_committed(tx_id, timeout)


class Requester:
    """One thread's client: a session on one node, used for one request at a time."""

    def __init__(self, fixture: Fixture, group: Group, node_index: int) -> None:
        url = fixture.network.nodes[node_index % len(fixture.network.nodes)].http_url
        self.session = Session(NodeClient(url, timeout=30), group)
        self.fixture = fixture

    def run(self, keys: MemberKeys, fetch: bool, timeout: float) -> dict[str, float]:
        """One request; returns its phases in ms (``decision``, ``decrypt``, ``fetch``)."""
        start = time.perf_counter()
        request_id = request_access(self.session, keys, self.fixture.record_id, attributes=())
        decision = wait_decision(self.session, request_id, timeout)
        decided = time.perf_counter()
        open_metadata(self.session, keys, self.fixture.record_id, decision)
        decrypted = time.perf_counter()
        phases = {
            "decision": (decided - start) * 1e3,
            "decrypt": (decrypted - start) * 1e3,
        }
        if fetch:
            fetch_and_decrypt(self.session, keys, self.fixture.record_id, decision)
            phases["fetch"] = (time.perf_counter() - decrypted) * 1e3
        return phases

    def run_policy(self, index: int, timeout: float) -> dict[str, float]:
        """One request for the policy record by requester ``index``, opened step by step as
        :func:`client.requester.open_metadata` does, so that the FAME decryption (K_abe) and
        the domain half (K_pre from the combined shares) are timed apart; ms per phase."""
        fixture, session = self.fixture, self.session
        record_id = fixture.policy_record_id
        if record_id is None:
            raise ValueError("the fixture was prepared without a policy record")
        keys = fixture.requesters[index]
        params = setup(session.group)
        record = PolicyRecordView.from_put(session.committed_put(record_id), params)
        fame = network_keys(session.genesis, session.group).fame
        start = time.perf_counter()
        # The attributes are given, as the owner-grant runs give theirs: no extra GET inside.
        request_id = request_access(session, keys, record_id, attributes=ATTRIBUTES)
        decision = wait_decision(session, request_id, timeout)
        decided = time.perf_counter()
        if decision.status != "granted":
            raise AccessDenied(f"policy request {request_id[:16]}… was {decision.status}")
        pre = open_pre_part(params, record, session.chain_id, keys.tpre_secret,
                            bytes.fromhex(request_id), decision.reencrypted)
        opened_pre = time.perf_counter()
        abe = recover_abe(fame, record, fixture.attribute_keys[index])
        opened_abe = time.perf_counter()
        open_with_parts(record, pre, abe)
        done = time.perf_counter()
        return {
            "decision": (decided - start) * 1e3,
            "decrypt": (done - start) * 1e3,
            "domain_half": (opened_pre - decided) * 1e3,
            "fame_decrypt": (opened_abe - opened_pre) * 1e3,
        }

    def close(self) -> None:
        self.session.client.close()
