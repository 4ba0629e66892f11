"""Fragment keeping and granted fetches over the in-memory application world."""

from __future__ import annotations

import secrets

import pytest
import trio

from consensus.encoding import ItemKind
from consensus.messages import Submission
from ledger.transactions import MemberRole
from node.p2p import RemoteError
from node.p2p.envelope import Status
from node.storage import (
    GET_PROTOCOL,
    FragmentKeeper,
    StorageRefused,
)
from node.wire import FragmentGet, fetch_signing_payload
from tests.node.app_world import BULK, AppWorld, Member


def keeper(world: AppWorld, index: int) -> FragmentKeeper:
    app = world.apps[index]
    return FragmentKeeper(app.ledger, app.local, index, world.clock_ms)


def signed_fetch(world: AppWorld, member: Member, record_id: bytes, **changes: int) -> FragmentGet:
    timestamp = changes.get("timestamp_ms", world.clock_ms())
    nonce = secrets.token_bytes(16)
    payload = fetch_signing_payload(
        world.genesis.chain_id, record_id, member.member_id, timestamp, nonce
    )
    return FragmentGet(record_id, member.member_id, timestamp, nonce, member.key.sign(payload))


def grant_and_decide(world: AppWorld, shared: tuple[Member, Member, bytes]) -> None:
    _, requester, record_id = shared
    request = world.request(requester, record_id)
    world.submit(ItemKind.REQUEST, request)
    ident = Submission(ItemKind.REQUEST, request).item_id
    world.run_until(lambda: all(app.is_committed(ident) for app in world.apps.values()))


def refusal(call: object) -> StorageRefused:
    with pytest.raises(StorageRefused) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_keeps_only_its_own_correct_fragment(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    record_id = shared[2]
    fragments = world.stored[record_id].fragments
    two = keeper(world, 2)
    assert refusal(lambda: two.keep(record_id, fragments[0].to_bytes())).code == "bad_fragment"
    corrupt = fragments[1].__class__(2, bytes(len(fragments[1].payload)))
    assert refusal(lambda: two.keep(record_id, corrupt.to_bytes())).code == "bad_fragment"
    assert refusal(lambda: two.keep(record_id, b"junk")).status == 400
    two.keep(record_id, fragments[1].to_bytes())
    assert two.own_fragment(record_id) == fragments[1].to_bytes()


def test_fragment_before_its_record_waits_then_is_checked(world: AppWorld) -> None:
    owner, register = world.member(MemberRole.OWNER)
    world.commit_all([register])
    record_id, put = world.put_record(owner)
    three = keeper(world, 3)
    fragment = world.stored[record_id].fragments[2].to_bytes()
    three.keep(record_id, fragment)
    assert three.own_fragment(record_id) is None  # not committed yet: nothing is served
    world.commit_all([put])
    assert three.own_fragment(record_id) == fragment
    assert world.apps[3].local.pending_fragment(record_id) is None


def test_fetch_needs_a_signed_fresh_unused_and_granted_request(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    owner, requester, record_id = shared
    one = keeper(world, 1)
    assert refusal(lambda: one.authorize_fetch(signed_fetch(world, owner, bytes(32)))).status == 404
    stranger = Member(owner.key.__class__.generate(), owner.tpre)
    assert refusal(lambda: one.authorize_fetch(signed_fetch(world, stranger, record_id))).code == (
        "not_registered"
    )
    stale = signed_fetch(world, requester, record_id, timestamp_ms=world.clock_ms() - 3_600_000)
    assert refusal(lambda: one.authorize_fetch(stale)).code == "stale"
    forged = signed_fetch(world, requester, record_id)
    forged = FragmentGet(
        forged.record_id, forged.requester, forged.timestamp_ms, forged.nonce, bytes(64)
    )
    assert refusal(lambda: one.authorize_fetch(forged)).code == "bad_signature"
    assert refusal(lambda: one.authorize_fetch(signed_fetch(world, owner, record_id))).code == (
        "not_granted"
    )
    grant_and_decide(world, shared)
    fetch = signed_fetch(world, requester, record_id)
    one.authorize_fetch(fetch)
    assert refusal(lambda: one.authorize_fetch(fetch)).code == "replayed"


def test_fetch_rebuilds_from_peers_and_skips_bad_ones(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, requester, record_id = shared
    grant_and_decide(world, shared)
    coded = world.stored[record_id]
    keepers = {i: keeper(world, i) for i in world.apps}
    for index, k in keepers.items():
        k.keep(record_id, coded.fragments[index - 1].to_bytes())

    async def request(peer: int, protocol: str, payload: bytes) -> bytes:
        assert protocol == GET_PROTOCOL
        if peer == 2:
            good = coded.fragments[1]
            return good.__class__(2, bytes(len(good.payload))).to_bytes()  # corrupt: skipped
        if peer == 3:
            raise RemoteError(Status.REJECTED, "not_granted")
        return await keepers[peer].serve_get(payload)

    async def run() -> bytes:
        outcome = await keepers[1].fetch(
            signed_fetch(world, requester, record_id), [2, 3, 4], request
        )
        return outcome.data

    with pytest.raises(StorageRefused) as caught:
        trio.run(run)  # own + node 4 = 2 < t = 3
    assert caught.value.status == 503

    async def healthy(peer: int, protocol: str, payload: bytes) -> bytes:
        return await keepers[peer].serve_get(payload)

    async def run_healthy() -> bytes:
        outcome = await keepers[1].fetch(
            signed_fetch(world, requester, record_id), [2, 3, 4], healthy
        )
        return outcome.data

    assert trio.run(run_healthy) == BULK
