"""Sustained request load during a chaos run: several requesters, each on its own thread,
submitting access requests at a steady pace whatever the network is going through.

A request is signed once and offered to the nodes in turn (a different first node for each
request) until one acknowledges it: 202, or 409 when a node already holds the same
transaction because an earlier attempt reached it without the answer getting back. Only an
acknowledged request is one the network owes an outcome. Waiter threads then poll
``GET /requests/{id}`` on any node that answers until the request is decided or its decision
timeout passes; an undecided request is not a failure in itself (the network may have been
split): the post-heal check asks the chain whether it was committed.

The record and the grants the requests ask for are set up first by :func:`prepare`, as
``bench e2e`` does (the testnet package cannot import bench).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from client import MemberKeys, NodeClient
from client.authority import register_member
from client.errors import ClientError, ConnectionFailed, NodeError
from client.member import publish_tpre_key
from client.owner import grant_access, put_file
from client.session import Session, now_ms
from crypto.groups import Group
from crypto.signing import SigningKey
from ledger.transactions import AccessRequest, MemberRole

#: How long one HTTP call to a node may take before the next node is tried.
CALL_TIMEOUT_S = 5.0
#: One long poll while waiting for a decision (short, so a dead node is left quickly).
POLL_WAIT_S = 2.0
#: Answers that mean "this node already has exactly this transaction".
ALREADY_HELD = ("replayed", "duplicate")


@dataclass(frozen=True, slots=True)
class Fixture:
    """One record and the requesters granted on it."""

    record_id: bytes
    keywords_hash: bytes
    requesters: tuple[MemberKeys, ...]


def prepare(url: str, authority_key: SigningKey, group: Group, requesters: int) -> Fixture:
    """Register an owner and ``requesters`` requesters, store one small record, grant them all
    (through the node at ``url``). Raises the client's errors."""
    with NodeClient(url, timeout=30) as client:
        session = Session(client, group)
        owner = MemberKeys.generate(group, MemberRole.OWNER)
        members = [MemberKeys.generate(group, MemberRole.REQUESTER) for _ in range(requesters)]
        everyone = (owner, *members)
        # One kind at a time, then wait for all: the commits share blocks.
        registered = [
            register_member(session, authority_key, k.public(), wait=False)["tx_id"]
            for k in everyone
        ]
        for tx_id in registered:
            session.wait_committed(tx_id, 60)
        for tx_id in [publish_tpre_key(session, k, wait=False)["tx_id"] for k in everyone]:
            session.wait_committed(tx_id, 60)
        stored = put_file(session, owner, b"chaos" * 64, access_limit=10**9, timeout=60)
        granted = [
            grant_access(session, owner, stored.record_id, k.member_id, wait=False)["tx_id"]
            for k in members
        ]
        for tx_id in granted:
            session.wait_committed(tx_id, 60)
        keywords = session.keywords_hash(stored.record_id)
    return Fixture(stored.record_id, keywords, tuple(members))


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request; times are seconds on the run's clock."""

    requester: int
    submitted_s: float
    request_id: str | None = None
    acked_by: int | None = None
    acked_s: float | None = None
    outcome: str = "unacknowledged"  # granted, denied, undecided, or unacknowledged
    decided_s: float | None = None
    attempts: list[str] = field(default_factory=list)

    @property
    def latency_ms(self) -> float | None:
        if self.decided_s is None:
            return None
        return (self.decided_s - self.submitted_s) * 1000

    def to_json(self) -> dict[str, Any]:
        return {
            "requester": self.requester,
            "request_id": self.request_id,
            "submitted_s": round(self.submitted_s, 3),
            "acked_by": self.acked_by,
            "outcome": self.outcome,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "attempts": self.attempts[-4:],
        }


class LoadGenerator:
    """``requesters`` threads, each submitting one request every ``1/rate`` s to ``urls``."""

    def __init__(
        self,
        urls: Sequence[str],
        fixture: Fixture,
        chain_id: str,
        *,
        rate: float,
        decision_timeout_s: float,
        clock: Callable[[], float],
        waiters: int = 8,
    ) -> None:
        if rate <= 0:
            raise ValueError("the request rate must be positive")
        self._urls = list(urls)
        self._fixture = fixture
        self._chain_id = chain_id
        self._period = 1.0 / rate
        self._timeout = decision_timeout_s
        self._clock = clock
        self._stop = threading.Event()
        self._abandoned = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._waiters = ThreadPoolExecutor(waiters, thread_name_prefix="chaos-wait")
        self.records: list[RequestRecord] = []

    def start(self) -> None:
        for index, keys in enumerate(self._fixture.requesters):
            thread = threading.Thread(
                target=self._requester, args=(index, keys), name=f"chaos-req{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop submitting; wait for the submitters and the decisions still awaited."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._waiters.shutdown(wait=True)

    def abandon(self) -> None:
        """Stop at once, awaiting nothing (a run that was interrupted): the queued waits are
        dropped and the running ones end at their next poll. Without this the interpreter's
        exit waited for every queued wait to poll nodes that were already stopped."""
        self._stop.set()
        self._abandoned.set()
        self._waiters.shutdown(wait=False, cancel_futures=True)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self.records)

    # -- one requester -----------------------------------------------------------------------

    def _requester(self, index: int, keys: MemberKeys) -> None:
        clients = [NodeClient(url, timeout=CALL_TIMEOUT_S, retry_budget=0) for url in self._urls]
        # Requesters start out of step, so they do not all hit the network at one instant.
        due = time.monotonic() + self._period * index / max(1, len(self._fixture.requesters))
        sent = 0
        try:
            while not self._stop.wait(max(0.0, due - time.monotonic())):
                self._one(index, keys, clients, first=(index + sent) % len(clients))
                sent += 1
                due += self._period
        finally:
            for client in clients:
                client.close()

    def probe(self, timeout_s: float) -> float | None:
        """A request sent now by the first requester, offered to the nodes again and again
        until one acknowledges it, then awaited: seconds until it was decided, ``None`` if
        that took over ``timeout_s``. It counts among the acknowledged requests."""
        start = time.monotonic()
        keys = self._fixture.requesters[0]
        clients = [NodeClient(url, timeout=CALL_TIMEOUT_S, retry_budget=0) for url in self._urls]
        try:
            first = 0
            while time.monotonic() - start < timeout_s:
                record = self._one(0, keys, clients, first, background=False)
                if record.acked_by is not None:
                    left = timeout_s - (time.monotonic() - start)
                    self._await_decision(record, record.acked_by - 1, left)
                    if record.decided_s is not None:
                        return time.monotonic() - start
                    return None
                first = (first + 1) % len(clients)
                time.sleep(0.2)  # every node refused: let the network come back
            return None
        finally:
            for client in clients:
                client.close()

    def _one(
        self,
        index: int,
        keys: MemberKeys,
        clients: list[NodeClient],
        first: int,
        *,
        background: bool = True,
    ) -> RequestRecord:
        tx = AccessRequest(
            requester=keys.member_id,
            record_id=self._fixture.record_id,
            keywords_hash=self._fixture.keywords_hash,
            attribute_hashes=(),
            timestamp_ms=now_ms(),
            nonce=secrets.token_bytes(16),
        ).signed(keys.signing_key, self._chain_id)
        encoded = tx.to_bytes()
        record = RequestRecord(index, self._clock())
        with self._lock:
            self.records.append(record)
        for step in range(len(clients)):
            node = (first + step) % len(clients)
            try:
                clients[node].submit_tx(encoded)
            except NodeError as exc:
                record.attempts.append(f"node {node + 1}: {exc.status} {exc.code}")
                if exc.code not in ALREADY_HELD:
                    continue
            except ClientError as exc:
                record.attempts.append(f"node {node + 1}: {exc}")
                continue
            record.request_id = tx.tx_id().hex()
            record.acked_by = node + 1
            record.acked_s = self._clock()
            record.outcome = "undecided"
            if background:
                self._waiters.submit(self._await_decision, record, node, self._timeout)
            return record
        return record

    def _await_decision(self, record: RequestRecord, first: int, timeout_s: float) -> None:
        if record.request_id is None or record.acked_s is None:
            return
        # The timeout runs from the acknowledgement, however long this waited for a thread.
        left = timeout_s - (self._clock() - record.acked_s)
        deadline = time.monotonic() + max(left, POLL_WAIT_S)
        node = first
        with_clients = [NodeClient(url, timeout=CALL_TIMEOUT_S, retry_budget=0)
                        for url in self._urls]
        try:
            while time.monotonic() < deadline and not self._abandoned.is_set():
                wait = max(0.0, min(POLL_WAIT_S, deadline - time.monotonic()))
                try:
                    answer = with_clients[node].request(record.request_id, wait=wait)
                except (ConnectionFailed, NodeError) as exc:
                    # Unreachable, not yet known there, or refusing: ask the next node.
                    if isinstance(exc, NodeError) and exc.code == "not_found":
                        time.sleep(0.2)
                    node = (node + 1) % len(with_clients)
                    continue
                status = str(answer.get("status", ""))
                if status in ("granted", "denied"):
                    record.outcome = status
                    record.decided_s = self._clock()
                    return
        finally:
            for client in with_clients:
                client.close()
