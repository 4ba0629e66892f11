"""Fragment keeping and granted fetches over the in-memory application world."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable

import pytest
import trio

from consensus.encoding import ItemKind
from crypto.storage import Fragment
from ledger.access_token import AccessToken
from ledger.kv import MemoryStore
from ledger.transactions import MemberRole, tx_id_of
from node.localstore import LocalStore
from node.p2p import RemoteError, RequestTimeout
from node.p2p.envelope import Status
from node.pending_fragments import PendingLimits
from node.refusals import most_common, peer_refusal
from node.storage import (
    GET_PROTOCOL,
    FragmentKeeper,
    PeerRequest,
    StorageRefused,
)
from node.wire import FragmentGet, FragmentPut
from tests.node.app_world import BULK, AppWorld, Member


def keeper(world: AppWorld, index: int) -> FragmentKeeper:
    app = world.apps[index]
    return FragmentKeeper(app.ledger, app.local, index, world.clock_ms)


def signed_fetch(
    world: AppWorld,
    member: Member,
    record_id: bytes,
    decision_id: bytes | None = None,
    **changes: int,
) -> FragmentGet:
    """A fetch under an access token naming ``decision_id`` (by default the member's latest
    decision on the record, or an unknown id when it has none)."""
    timestamp = changes.get("timestamp_ms", world.clock_ms())
    if decision_id is None:
        mine = [
            a.request_id
            for a in world.apps[1].ledger.audit_by_record(record_id)
            if a.requester == member.member_id
        ]
        decision_id = mine[-1] if mine else bytes(32)
    token = AccessToken(
        record_id=record_id,
        requester=member.member_id,
        decision_id=decision_id,
        expires_at_ms=changes.get("expires_at_ms", timestamp + 600_000),
        abe_binding=None,
        timestamp_ms=timestamp,
        nonce=secrets.token_bytes(16),
    )
    return FragmentGet(token.signed(member.key, world.genesis.chain_id))


def grant_and_decide(world: AppWorld, shared: tuple[Member, Member, bytes]) -> bytes:
    """Commit a request of ``shared``'s requester for its record; returns the request id."""
    _, requester, record_id = shared
    request = world.request(requester, record_id)
    world.submit(ItemKind.REQUEST, request)
    ident = tx_id_of(request)
    world.run_until(lambda: all(app.is_committed(ident) for app in world.apps.values()))
    return ident


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
    assert refusal(lambda: two.keep(record_id, fragments[0].to_bytes(), 1)).code == "bad_fragment"
    corrupt = fragments[1].__class__(2, bytes(len(fragments[1].payload)))
    assert refusal(lambda: two.keep(record_id, corrupt.to_bytes(), 1)).code == "bad_fragment"
    assert refusal(lambda: two.keep(record_id, b"junk", 1)).status == 400
    two.keep(record_id, fragments[1].to_bytes(), 1)
    assert two.own_fragment(record_id) == fragments[1].to_bytes()


def test_fragment_before_its_record_waits_then_is_checked(world: AppWorld) -> None:
    owner, register = world.member(MemberRole.OWNER)
    world.commit_all([register])
    record_id, put = world.put_record(owner)
    three = keeper(world, 3)
    fragment = world.stored[record_id].fragments[2].to_bytes()
    three.keep(record_id, fragment, 1)
    assert three.own_fragment(record_id) is None  # not committed yet: nothing is served
    world.commit_all([put])
    assert three.own_fragment(record_id) == fragment
    assert world.apps[3].local.pending.candidates(record_id) == []


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
    forged = FragmentGet(dataclasses.replace(forged.token, signature=bytes(64)))
    assert refusal(lambda: one.authorize_fetch(forged)).code == "bad_signature"
    assert refusal(lambda: one.authorize_fetch(signed_fetch(world, owner, record_id))).code == (
        "decision_unknown"
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
        k.keep(record_id, coded.fragments[index - 1].to_bytes(), 1)

    async def request(peer: int, protocol: str, payload: bytes) -> bytes:
        assert protocol == GET_PROTOCOL
        if peer == 2:
            good = coded.fragments[1]
            return good.__class__(2, bytes(len(good.payload))).to_bytes()  # corrupt: skipped
        if peer == 3:
            raise RequestTimeout("no answer")  # not the requester's doing: data unavailable
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


# -- the pending area and the HTTP upload (issue 11) -------------------------------------------


def fresh_keeper(
    world: AppWorld,
    index: int,
    local: LocalStore | None = None,
    clock_ms: Callable[[], int] | None = None,
) -> FragmentKeeper:
    """A keeper over node ``index``'s ledger with an empty pending area of its own."""
    local = local or LocalStore(MemoryStore())
    return FragmentKeeper(world.apps[index].ledger, local, index, clock_ms or world.clock_ms)


def hand(keeper: FragmentKeeper, record_id: bytes, raw: bytes, uploader: int) -> None:
    """What node ``uploader`` handing a fragment over libp2p makes the keeper do."""
    trio.run(keeper.serve_put, FragmentPut(record_id, raw).to_bytes(), uploader)


def as_peer(keepers: dict[int, FragmentKeeper]) -> PeerRequest:
    """Peer requests answered by ``keepers``, refusals reported as the service reports them."""

    async def request(peer: int, protocol: str, payload: bytes) -> bytes:
        try:
            return await keepers[peer].serve_get(payload)
        except StorageRefused as exc:
            raise RemoteError(Status.REJECTED, exc.detail) from exc

    return request


def uncommitted_record(world: AppWorld, owner: Member) -> tuple[bytes, bytes]:
    """A record id and its PutRecord, not committed yet."""
    return world.put_record(owner)


def junk(index: int, size: int = 100) -> bytes:
    return Fragment(index, secrets.token_bytes(size)).to_bytes()


@pytest.mark.parametrize("bad_first", [False, True])
def test_a_bad_fragment_cannot_replace_a_parked_good_one(
    world: AppWorld, shared: tuple[Member, Member, bytes], bad_first: bool
) -> None:
    record_id, put = uncommitted_record(world, shared[0])
    three = fresh_keeper(world, 3)
    good = world.stored[record_id].fragments[2]
    bad = Fragment(3, bytes(len(good.payload)))
    arrivals = [(bad, 2), (good, 1)] if bad_first else [(good, 1), (bad, 2)]
    for fragment, uploader in arrivals:
        hand(three, record_id, fragment.to_bytes(), uploader)
    # Node 1 cannot swap the fragment it handed over for other bytes either.
    assert refusal(lambda: hand(three, record_id, bad.to_bytes(), 1)).status == 409
    world.commit_all([put])
    assert three.own_fragment(record_id) == good.to_bytes()
    assert three.own_fragment(record_id) == good.to_bytes()  # kept for good, not re-checked
    assert world.apps[3].ledger.fragments.get(record_id, 3) is not None


def test_parking_past_the_bound_is_refused_with_429(world: AppWorld) -> None:
    limits = PendingLimits(max_fragments=4, max_bytes=1 << 20, uploader_share=2)
    two = fresh_keeper(world, 2, LocalStore(MemoryStore(), limits))
    for _ in range(2):
        hand(two, secrets.token_bytes(32), junk(2), 1)
    refused = refusal(lambda: hand(two, secrets.token_bytes(32), junk(2), 1))
    assert (refused.status, refused.code) == (429, "busy")
    for _ in range(2):
        hand(two, secrets.token_bytes(32), junk(2), 3)  # another peer has its own share
    refused = refusal(lambda: hand(two, secrets.token_bytes(32), junk(2), 4))
    assert (refused.status, refused.code) == (429, "busy")  # the whole area is full


def test_parked_fragments_are_promoted_on_commit_and_junk_expires(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    now = [world.clock_ms()]
    limits = PendingLimits(max_fragments=4, max_bytes=1 << 20, ttl_ms=60_000, uploader_share=2)
    local = LocalStore(MemoryStore(), limits)
    four = fresh_keeper(world, 4, local, lambda: now[0])
    record_id, put = uncommitted_record(world, shared[0])
    unknown = secrets.token_bytes(32)
    hand(four, unknown, junk(4), 1)
    hand(four, record_id, world.stored[record_id].fragments[3].to_bytes(), 1)
    assert refusal(lambda: hand(four, secrets.token_bytes(32), junk(4), 1)).status == 429
    world.commit_all([put])
    # The commit settles the real fragment, which frees its place in node 1's share.
    later = secrets.token_bytes(32)
    hand(four, later, junk(4), 1)
    stored = world.apps[4].ledger.fragments.get(record_id, 4)
    assert stored is not None
    assert stored.fragment == world.stored[record_id].fragments[3].to_bytes()
    now[0] += 60_001
    hand(four, secrets.token_bytes(32), junk(4), 1)  # the expired junk made room
    assert local.pending.candidates(unknown) == []
    assert local.pending.candidates(later) == []


def test_an_upload_is_checked_whole_against_the_committed_record(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    one = fresh_keeper(world, 1)
    record_id, put = uncommitted_record(world, shared[0])
    fragments = [f.to_bytes() for f in world.stored[record_id].fragments]
    assert refusal(lambda: one.store_upload(record_id, fragments)).status == 404
    world.commit_all([put])
    assert refusal(lambda: one.store_upload(record_id, fragments[:3])).status == 400
    forged = [*fragments[:2], junk(3), fragments[3]]
    assert refusal(lambda: one.store_upload(record_id, forged)).code == "bad_fragment"
    assert one.own_fragment(record_id) is None  # nothing kept from a refused upload
    one.store_upload(record_id, fragments)
    assert one.own_fragment(record_id) == fragments[0]


def test_a_replayed_fetch_sent_to_a_fresh_node_is_a_conflict(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, requester, record_id = shared
    grant_and_decide(world, shared)
    for index, fragment in enumerate(world.stored[record_id].fragments, start=1):
        world.apps[index].ledger.fragments.put(record_id, index, fragment.to_bytes())
    keepers = {i: keeper(world, i) for i in world.apps}
    fetch = signed_fetch(world, requester, record_id)
    outcome = trio.run(keepers[1].fetch, fetch, [2, 3], as_peer(keepers))
    assert outcome.data == BULK
    # Node 4 never saw this nonce; nodes 1 to 3 did and refuse it, and so must node 4.
    replayed = refusal(lambda: trio.run(keepers[4].fetch, fetch, [1, 2, 3], as_peer(keepers)))
    assert (replayed.status, replayed.code) == (409, "replayed")


def test_only_the_requesters_own_faults_from_peers_are_reported() -> None:
    replayed = peer_refusal(RemoteError(Status.REJECTED, "replayed: fetch nonce already used"))
    assert replayed is not None
    assert (replayed.status, replayed.code) == (409, "replayed")
    assert peer_refusal(RemoteError(Status.REJECTED, "not_found: no fragment here")) is None
    theirs = peer_refusal(RemoteError(Status.REJECTED, "token_not_yours: another's decision"))
    assert theirs is not None
    assert (theirs.status, theirs.code) == (403, "token_not_yours")
    assert peer_refusal(RemoteError(Status.INTERNAL, "replayed: looks typed")) is None
    assert peer_refusal(RequestTimeout("no answer")) is None
    stale, granted = StorageRefused(409, "stale", "s"), StorageRefused(403, "not_granted", "g")
    assert most_common([granted, stale, granted]).code == "not_granted"
    assert most_common([granted, stale]).code == "stale"  # a tie goes by PEER_REFUSALS order


def test_a_fetch_of_a_node_without_its_fragment_does_not_use_up_the_nonce(
    world: AppWorld,
) -> None:
    owner, register_owner = world.member(MemberRole.OWNER)
    requester, register_requester = world.member(MemberRole.REQUESTER)
    world.commit_all([register_owner, register_requester])
    record_id, put = world.put_record(owner)  # committed, no fragment stored anywhere yet
    world.commit_all([put])
    world.commit_all([world.grant(owner, record_id, requester)])
    grant_and_decide(world, (owner, requester, record_id))
    two = fresh_keeper(world, 2)
    fetch = signed_fetch(world, requester, record_id)
    missing = refusal(lambda: trio.run(two.serve_get, fetch.to_bytes()))
    assert (missing.status, missing.code) == (404, "not_found")
    fragment = world.stored[record_id].fragments[1].to_bytes()
    two.keep(record_id, fragment, 1)
    # The same signed fetch, sent again once the fragment arrived, is served, then spent.
    assert trio.run(two.serve_get, fetch.to_bytes()) == fragment
    again = refusal(lambda: trio.run(two.serve_get, fetch.to_bytes()))
    assert again.code == "replayed"
