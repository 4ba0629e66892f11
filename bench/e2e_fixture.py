"""The testnet side of ``bench e2e``: the record and requesters a run uses, and the client that
makes one request at a time (shared by the low-load, burst and sustained measurements)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from client import MemberKeys, NodeClient
from client.authority import register_member
from client.member import publish_tpre_key
from client.owner import grant_access, put_file
from client.requester import fetch_and_decrypt, open_metadata, request_access, wait_decision
from client.session import Session
from crypto.groups import Group
from ledger.transactions import MemberRole
from testnet.layout import Network

#: Requests per requester are never the limit in a benchmark.
ACCESS_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class Fixture:
    """The network, one record and the requesters granted on it."""

    network: Network
    record_id: bytes
    requesters: tuple[MemberKeys, ...]


def prepare(network: Network, group: Group, requesters: int, size: int) -> Fixture:
    """Register an owner and ``requesters`` requesters, store one record, grant them all."""
    authority = network.authority_key()
    with NodeClient(network.nodes[0].http_url, timeout=30) as client:
        session = Session(client, group)
        owner = MemberKeys.generate(group, MemberRole.OWNER)
        members = [MemberKeys.generate(group, MemberRole.REQUESTER) for _ in range(requesters)]
        # Submit everything of one kind, then wait for each: the commits share blocks.
        registered = [
            register_member(session, authority, keys.public(), wait=False)["tx_id"]
            for keys in (owner, *members)
        ]
        for tx_id in registered:
            session.wait_committed(tx_id, 60)
        published = [
            publish_tpre_key(session, keys, wait=False)["tx_id"] for keys in (owner, *members)
        ]
        for tx_id in published:
            session.wait_committed(tx_id, 60)
        stored = put_file(session, owner, b"\x5a" * size, access_limit=ACCESS_LIMIT, timeout=60)
        granted = [
            grant_access(session, owner, stored.record_id, keys.member_id, wait=False)["tx_id"]
            for keys in members
        ]
        for tx_id in granted:
            session.wait_committed(tx_id, 60)
    return Fixture(network, stored.record_id, tuple(members))


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

    def close(self) -> None:
        self.session.client.close()
