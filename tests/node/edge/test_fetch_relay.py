"""The edge's fetch relay over the in-memory application world.

The nodes are real fragment keepers over the world's ledgers (each runs its full token check);
the proof fetcher is replaced by one that reads the same ledger (the proofs themselves are
tested in test_proofs.py), and the edge's requests reach the keepers directly.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import trio
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from crypto.signing import SigningKey
from ledger.genesis import EdgeInfo
from ledger.kv import MemoryStore
from node.edge.fetch_relay import MAX_BODY_BYTES, EdgeFetch, FetchRelay, fetch_routes
from node.edge.proofs import ItemNotFound, Verified, VerifiedDecision, VerifiedTx
from node.fetch_nonces import FetchNonces
from node.fragment_service import FragmentService
from node.p2p import RemoteError, RequestRejected, parse_peer_id
from node.p2p.envelope import Status
from node.p2p.identity import peer_id_of
from node.refusals import StorageRefused
from node.storage import GET_PROTOCOL, PUT_PROTOCOL, FragmentKeeper
from node.wire import FragmentGet
from tests.node.app_world import BULK, AppWorld, Member, make_world
from tests.node.test_fetch_auth import doctor_binding, granted_pair, granted_policy_record
from tests.node.test_storage import fresh_keeper, grant_and_decide, signed_fetch


class LedgerProofs:
    """Stands in for the ProofFetcher: items read from node 1's ledger, as if proven."""

    def __init__(self, world: AppWorld) -> None:
        self.ledger = world.apps[1].ledger

    async def fetch_tx(self, tx_id: bytes, *, quick: bool = False) -> VerifiedTx:
        stored = self.ledger.transaction(tx_id)
        if stored is None:
            raise ItemNotFound("no such transaction")
        return VerifiedTx(stored.transaction, tx_id, Verified(stored.height, bytes(32), 0))

    async def fetch_decision(
        self, request_id: bytes, *, quick: bool = False
    ) -> VerifiedDecision:
        stored = self.ledger.transaction(request_id)
        block = None if stored is None else self.ledger.block(stored.height)
        results = [] if block is None else block.block.results
        result = next((r for r in results if r.request_id == request_id), None)
        if stored is None or result is None:
            raise ItemNotFound("no such decision")
        return VerifiedDecision(result, Verified(stored.height, bytes(32), 0))

    def get(self, height: int) -> Any:
        [header] = self.ledger.block_headers(height, height + 1, limit=1)
        return SimpleNamespace(header=header)


@dataclasses.dataclass
class Edge:
    world: AppWorld
    relay: FetchRelay
    keepers: dict[int, FragmentKeeper]
    store: MemoryStore
    asked: list[int]


def make_edge(
    world: AppWorld,
    record_id: bytes,
    store: MemoryStore | None = None,
    clock_ms: Callable[[], int] | None = None,
) -> Edge:
    """An edge relay in front of fresh keepers of every node, all on ``clock_ms``."""
    clock_ms = clock_ms or world.clock_ms
    keepers = {i: fresh_keeper(world, i, clock_ms=clock_ms) for i in world.apps}
    for index, keeper in keepers.items():
        keeper.keep(record_id, world.stored[record_id].fragments[index - 1].to_bytes(), 1)
    by_peer = {node.peer_id: node.index for node in world.genesis.nodes}
    asked: list[int] = []

    async def request(peer: str, protocol: str, payload: bytes) -> bytes:
        assert protocol == GET_PROTOCOL
        asked.append(by_peer[peer])
        try:
            return await keepers[by_peer[peer]].serve_get(payload)
        except StorageRefused as exc:
            raise RemoteError(Status.REJECTED, exc.detail) from exc

    store = store or MemoryStore()
    proofs = LedgerProofs(world)
    relay = FetchRelay(
        world.genesis,
        proofs,
        proofs,
        request,
        lambda: list(by_peer),
        FetchNonces(store, 2 * world.genesis.freshness_window_ms),
        clock_ms,
        CollectorRegistry(),
    )
    return Edge(world, relay, keepers, store, asked)


def edge_fetch(
    world: AppWorld, member: Member, record_id: bytes, decision_id: bytes | None = None,
    **changes: Any,
) -> EdgeFetch:
    token = signed_fetch(world, member, record_id, decision_id).token
    record = world.apps[1].ledger.record(record_id)
    assert record is not None
    fetch = EdgeFetch(token, member.key.verify_key.raw, record.tx_id)
    return dataclasses.replace(fetch, **changes)


def refusal(edge: Edge, fetch: EdgeFetch) -> StorageRefused:
    with pytest.raises(StorageRefused) as caught:
        trio.run(edge.relay.fetch, fetch)
    return caught.value


def counted(edge: Edge, code: str) -> float:
    return float(edge.relay.refusals.labels(code)._value.get())


def test_a_granted_fetch_is_rebuilt_and_its_replay_refused_even_after_a_restart(
    world: AppWorld,
) -> None:
    _, requester, record_id = granted_pair(world)
    edge = make_edge(world, record_id)
    fetch = edge_fetch(world, requester, record_id)
    outcome = trio.run(edge.relay.fetch, fetch)
    assert outcome.data == BULK
    assert outcome.corrupt == ()
    assert edge.relay.relayed._value.get() == 1
    asked = len(edge.asked)
    assert refusal(edge, fetch).code == "replayed"
    restarted = make_edge(world, record_id, edge.store)
    assert (refusal(restarted, fetch).status, refusal(restarted, fetch).code) == (409, "replayed")
    assert len(edge.asked) == asked
    assert restarted.asked == []
    assert counted(edge, "replayed") == 1


def test_a_token_of_another_requester_is_refused_at_the_edge(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    _, other, _ = granted_pair(world)
    edge = make_edge(world, record_id)
    mine = edge_fetch(world, requester, record_id)
    # Another member's token, signed by that member for the requester's decision.
    theirs = edge_fetch(world, other, record_id)
    theirs = dataclasses.replace(
        theirs,
        token=dataclasses.replace(theirs.token, decision_id=mine.token.decision_id).signed(
            other.key, world.genesis.chain_id
        ),
    )
    assert (refusal(edge, theirs).status, refusal(edge, theirs).code) == (403, "token_not_yours")
    # The requester's token shown with another member's key, or its signature altered.
    assert refusal(edge, dataclasses.replace(mine, verify_key=other.key.verify_key.raw)).code == (
        "key_not_member"
    )
    forged = dataclasses.replace(mine.token, signature=bytes(64))
    assert refusal(edge, dataclasses.replace(mine, token=forged)).code == "bad_signature"
    assert edge.asked == []


def test_what_the_edge_refuses_itself(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    edge = make_edge(world, record_id)
    now = world.clock_ms()

    def with_token(**changes: Any) -> EdgeFetch:
        fetch = edge_fetch(world, requester, record_id)
        token = dataclasses.replace(fetch.token, **changes).signed(
            requester.key, world.genesis.chain_id
        )
        return dataclasses.replace(fetch, token=token)

    assert refusal(edge, with_token(timestamp_ms=now - 3_600_000)).code == "stale"
    assert refusal(edge, with_token(expires_at_ms=now - 1)).code == "token_expired"
    unexpected = refusal(edge, with_token(abe_binding=bytes(32)))
    assert (unexpected.status, unexpected.code) == (403, "abe_binding_unexpected")
    assert refusal(edge, with_token(decision_id=secrets.token_bytes(32))).code == (
        "decision_unknown"
    )
    other_record = granted_pair(world)[2]
    other_tx = world.apps[1].ledger.record(other_record)
    assert other_tx is not None
    mismatch = refusal(edge, edge_fetch(world, requester, record_id, record_tx_id=other_tx.tx_id))
    assert (mismatch.status, mismatch.code) == (400, "record_tx_mismatch")
    unknown = refusal(edge, edge_fetch(world, requester, record_id, record_tx_id=bytes(32)))
    assert (unknown.status, unknown.code) == (404, "not_found")
    assert edge.asked == []
    assert counted(edge, "stale") == 1


@pytest.fixture(scope="module")
def keyed() -> AppWorld:
    """A world whose genesis deals the domain and FAME keys policy records need."""
    return make_world(authority_keys=True)


def bound_fetch(world: AppWorld, member: Member, record_id: bytes, binding: bytes) -> EdgeFetch:
    fetch = edge_fetch(world, member, record_id)
    token = dataclasses.replace(fetch.token, abe_binding=binding)
    return dataclasses.replace(fetch, token=token.signed(member.key, world.genesis.chain_id))


def test_a_policy_record_needs_the_right_abe_binding_at_the_edge(keyed: AppWorld) -> None:
    world = keyed
    doctor, record_id = granted_policy_record(world)
    edge = make_edge(world, record_id)
    missing = refusal(edge, edge_fetch(world, doctor, record_id))
    assert (missing.status, missing.code) == (403, "abe_binding_missing")
    right = doctor_binding(world, record_id)
    for wrong in (bytes(32), right[::-1]):
        assert refusal(edge, bound_fetch(world, doctor, record_id, wrong)).code == (
            "abe_binding_wrong"
        )
    assert edge.asked == []
    assert counted(edge, "abe_binding_wrong") == 2
    outcome = trio.run(edge.relay.fetch, bound_fetch(world, doctor, record_id, right))
    assert outcome.data == BULK


def test_a_policy_record_without_a_key_check_is_relayed_without_a_binding(
    keyed: AppWorld,
) -> None:
    world = keyed
    doctor, record_id = granted_policy_record(world, key_check=False)
    edge = make_edge(world, record_id)
    assert refusal(edge, bound_fetch(world, doctor, record_id, bytes(32))).code == (
        "abe_binding_unexpected"
    )
    assert trio.run(edge.relay.fetch, edge_fetch(world, doctor, record_id)).data == BULK


def test_the_nodes_check_the_binding_behind_the_edge(keyed: AppWorld) -> None:
    """A relay that skipped the binding check would still get nothing: each node refuses."""
    world = keyed
    doctor, record_id = granted_policy_record(world)
    nodes = make_edge(world, record_id).keepers
    fetch = bound_fetch(world, doctor, record_id, bytes(32)).token
    for keeper in nodes.values():
        with pytest.raises(StorageRefused) as caught:
            trio.run(keeper.serve_get, FragmentGet(fetch).to_bytes())
        assert caught.value.code == "abe_binding_wrong"


def test_after_a_revocation_the_nodes_refusal_reaches_the_requester(world: AppWorld) -> None:
    owner, requester, record_id = granted_pair(world)
    edge = make_edge(world, record_id)
    world.commit_all([world.revoke(owner, record_id, requester)])
    fetch = edge_fetch(world, requester, record_id)
    refused = refusal(edge, fetch)
    assert (refused.status, refused.code) == (403, "not_granted")
    assert "revoked" in refused.message
    assert len(edge.asked) >= world.genesis.threshold  # the edge's own checks passed
    # No data left the nodes: the edge did not spend the nonce either.
    assert not FetchNonces(edge.store, 1).seen(fetch.token.requester, fetch.token.nonce)


def test_a_denied_decision_is_refused_at_the_edge(world: AppWorld) -> None:
    """Past the access limit delta (here: with limit 1, a second request) the decision is a
    denial, which the edge sees in the proven result."""
    owner, requester, _ = granted_pair(world)
    record_id, put = world.put_record(owner, access_limit=1)
    world.commit_all([put])
    world.commit_all([world.grant(owner, record_id, requester)])
    grant_and_decide(world, (owner, requester, record_id))
    second = grant_and_decide(world, (owner, requester, record_id))
    assert not world.apps[1].ledger.audit_by_requester(requester.member_id)[-1].granted
    edge = make_edge(world, record_id)
    denied = refusal(edge, edge_fetch(world, requester, record_id, second))
    assert (denied.status, denied.code) == (403, "decision_denied")
    assert edge.asked == []


def test_an_expired_grant_is_refused_by_the_nodes_through_the_edge(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    grant = world.apps[1].ledger.grant(record_id, requester.member_id)
    assert grant is not None
    later = grant.expires_at_ms + 1  # inside the decision's 24 h window, past the grant
    edge = make_edge(world, record_id, clock_ms=lambda: later)
    fetch = edge_fetch(world, requester, record_id)
    token = dataclasses.replace(fetch.token, timestamp_ms=later, expires_at_ms=later + 60_000)
    fetch = dataclasses.replace(fetch, token=token.signed(requester.key, world.genesis.chain_id))
    expired = refusal(edge, fetch)
    assert (expired.status, expired.code) == (403, "not_granted")
    assert "expired" in expired.message
    assert len(edge.asked) >= world.genesis.threshold


def test_the_route_answers_like_a_node_and_refuses_bad_bodies(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    edge = make_edge(world, record_id)
    app = Starlette(routes=fetch_routes(edge.relay))
    fetch = edge_fetch(world, requester, record_id)
    body = {
        **fetch.token.to_json(),
        "verify_key": fetch.verify_key.hex(),
        "record_tx_id": fetch.record_tx_id.hex(),
    }
    path = f"/records/{record_id.hex()}/data"

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
            return [
                await client.post(path, json=body),
                await client.post(path, json=body),
                await client.post(path, json={**body, "verify_key": "zz"}),
                await client.post(path, json={k: v for k, v in body.items() if k != "decision_id"}),
                await client.post(path, content=b"[" * (MAX_BODY_BYTES + 1)),
                await client.post(path, content=b"[1]"),
            ]

    ok, replay, bad_key, no_token, huge, not_object = trio.run(run)
    assert ok.status_code == 200
    assert bytes.fromhex(ok.json()["ciphertext"]) == BULK
    assert ok.json()["corrupt_fragments"] == []
    assert (replay.status_code, replay.json()["error"]["code"]) == (409, "replayed")
    assert bad_key.status_code == 400
    assert (no_token.status_code, no_token.json()["error"]["code"]) == (403, "no_token")
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "too_large")
    assert not_object.status_code == 400
    assert counted(edge, "too_large") == 1
    assert counted(edge, "no_token") == 1


# -- a consensus node serves fragment gets to genesis edges -----------------------------------


class CapturingHost:
    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.limits: dict[str, int | None] = {}

    def add_protocol(
        self, protocol: str, handler: Any, max_request_bytes: int | None = None
    ) -> None:
        self.handlers[protocol] = handler
        self.limits[protocol] = max_request_bytes


class NoPeers:
    index = 1

    def index_of(self, peer: object) -> int | None:
        return None


def test_a_node_serves_a_genesis_edge_its_fragment_for_a_valid_token_only(
    world: AppWorld,
) -> None:
    owner, requester, record_id = granted_pair(world)
    keeper = fresh_keeper(world, 2)
    keeper.keep(record_id, world.stored[record_id].fragments[1].to_bytes(), 1)
    edge_key = SigningKey.generate()
    edge_peer = peer_id_of(edge_key.verify_key).to_base58()
    genesis = dataclasses.replace(
        world.genesis, edges=(EdgeInfo(str(edge_peer), edge_key.verify_key.raw),)
    )

    async def no_commit(deadline: float) -> bool:
        return False

    service = FragmentService(keeper, genesis, NoPeers(), no_commit)  # type: ignore[arg-type]
    host = CapturingHost()
    service.register(host)  # type: ignore[arg-type]
    stranger = parse_peer_id(str(peer_id_of(SigningKey.generate().verify_key).to_base58()))
    edge = parse_peer_id(str(edge_peer))

    async def run() -> None:
        get, put = host.handlers[GET_PROTOCOL], host.handlers[PUT_PROTOCOL]
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            fetch = signed_fetch(world, requester, record_id)
            served = await get(edge, fetch.to_bytes())
            assert served == world.stored[record_id].fragments[1].to_bytes()
            with pytest.raises(RequestRejected, match="not a genesis node"):
                await get(stranger, signed_fetch(world, requester, record_id).to_bytes())
            with pytest.raises(RequestRejected, match="not a genesis node"):
                await put(edge, b"")
            world.commit_all([world.revoke(owner, record_id, requester)])
            with pytest.raises(RequestRejected, match="not_granted"):
                await get(edge, signed_fetch(world, requester, record_id).to_bytes())
            nursery.cancel_scope.cancel()

    trio.run(run)

