"""Fetch authorization: only an access token naming the requester's own committed grant of the
record, while that access stands, opens fragments; and nonces outlive restarts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from consensus.encoding import ItemKind
from crypto.abe import DualRecord, abe_binding, keygen, recover_abe_part
from ledger.access_token import DECISION_FETCH_WINDOW_MS, AccessToken
from ledger.kv import MemoryStore
from ledger.transactions import MemberRole, tx_id_of
from node.fetch_auth import FetchAuthorizer
from node.fetch_nonces import FetchNonces
from node.fetch_tokens import CommittedDecision, check_expiry
from node.localstore import LocalStore
from node.refusals import StorageRefused
from node.storage import FragmentKeeper
from node.wire import FragmentGet, OutdatedFragmentGet
from tests.node.app_world import AppWorld, Member, make_world
from tests.node.inprocess import mock_clock_test
from tests.node.test_api_hostile import fetch_body, registered_node
from tests.node.test_storage import grant_and_decide, signed_fetch

HOUR_MS = 3_600_000


def granted_pair(world: AppWorld) -> tuple[Member, Member, bytes]:
    """A fresh owner, a requester granted its record, and one granted request decided."""
    owner, register_owner = world.member(MemberRole.OWNER)
    requester, register_requester = world.member(MemberRole.REQUESTER)
    world.commit_all([register_owner, register_requester])
    record_id, put = world.put_record(owner, access_limit=10)
    world.commit_all([put])
    world.commit_all([world.grant(owner, record_id, requester)])
    grant_and_decide(world, (owner, requester, record_id))
    return owner, requester, record_id


def registered(world: AppWorld, role: MemberRole = MemberRole.REQUESTER) -> Member:
    member, register = world.member(role)
    world.commit_all([register])
    return member


def authorizer(
    world: AppWorld, local: LocalStore | None = None, clock: Callable[[], int] | None = None
) -> FetchAuthorizer:
    app = world.apps[1]
    return FetchAuthorizer(app.ledger, local or LocalStore(MemoryStore()), clock or world.clock_ms)


def refusal_code(check: FetchAuthorizer, fetch: object) -> tuple[str, str]:
    with pytest.raises(StorageRefused) as caught:
        check.authorize(fetch)  # type: ignore[arg-type]
    return caught.value.code, caught.value.message


def test_a_revoked_grant_stops_fetches(world: AppWorld) -> None:
    owner, requester, record_id = granted_pair(world)
    check = authorizer(world)
    check.authorize(signed_fetch(world, requester, record_id))
    world.commit_all([world.revoke(owner, record_id, requester)])
    code, message = refusal_code(check, signed_fetch(world, requester, record_id))
    assert code == "not_granted"
    assert "revoked" in message


def test_an_expired_grant_stops_fetches(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    check = authorizer(world, clock=lambda: world.clock_ms() + 2 * HOUR_MS)  # grants last 1 h
    later = signed_fetch(
        world,
        requester,
        record_id,
        timestamp_ms=world.clock_ms() + 2 * HOUR_MS,
        expires_at_ms=world.clock_ms() + 3 * HOUR_MS,
    )
    assert refusal_code(check, later) == ("not_granted", "grant has expired")


def test_a_blacklisted_requester_cannot_fetch(
    world: AppWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, requester, record_id = granted_pair(world)
    check = authorizer(world)
    monkeypatch.setattr(
        world.apps[1].ledger, "is_blacklisted", lambda member: member == requester.member_id
    )
    code, message = refusal_code(check, signed_fetch(world, requester, record_id))
    assert (code, message) == ("not_granted", "requester is blacklisted")


def test_a_replayed_fetch_is_refused_after_a_restart(world: AppWorld, tmp_path: Path) -> None:
    _, requester, record_id = granted_pair(world)
    fetch = signed_fetch(world, requester, record_id)
    local = LocalStore.open(tmp_path / "node")
    authorizer(world, local).authorize(fetch)
    local.close()
    reopened = LocalStore.open(tmp_path / "node")
    try:
        assert refusal_code(authorizer(world, reopened), fetch)[0] == "replayed"
        authorizer(world, reopened).authorize(signed_fetch(world, requester, record_id))
    finally:
        reopened.close()


def test_a_refused_fetch_does_not_use_up_its_nonce(world: AppWorld) -> None:
    owner, _, record_id = granted_pair(world)
    local = LocalStore(MemoryStore())
    nonces = local.fetch_nonces(HOUR_MS)
    fetch = signed_fetch(world, owner, record_id)  # the owner made no request of its own record
    assert refusal_code(authorizer(world, local), fetch)[0] == "decision_unknown"
    assert not nonces.seen(owner.member_id, fetch.token.nonce)


def test_nonces_are_forgotten_once_their_fetches_cannot_be_fresh() -> None:
    store = MemoryStore()
    nonces = FetchNonces(store, window_ms=1_000)
    requester = bytes(32)
    for i in range(5):
        assert nonces.use(requester, i.to_bytes(16, "big"), timestamp_ms=10_000 + i, now_ms=10_000)
    assert not nonces.use(requester, (0).to_bytes(16, "big"), 10_000, now_ms=10_500)
    # Expiries 11_000 and 11_001 have passed; a fetch stamped 10_002 is still fresh at 11_002.
    assert nonces.prune(now_ms=11_002) == 2
    assert not nonces.seen(requester, (0).to_bytes(16, "big"))
    assert nonces.seen(requester, (2).to_bytes(16, "big"))
    assert nonces.prune(now_ms=20_000) == 3
    assert list(store.keys()) == []


def test_a_token_needs_a_decision_this_node_committed(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    unknown = signed_fetch(world, requester, record_id, decision_id=b"\x07" * 32)
    assert refusal_code(authorizer(world), unknown)[0] == "decision_unknown"


def test_a_token_naming_another_members_decision_is_refused(world: AppWorld) -> None:
    owner, requester, record_id = granted_pair(world)
    decision = grant_and_decide(world, (owner, requester, record_id))
    other = registered(world)
    world.commit_all([world.grant(owner, record_id, other)])  # granted too, but not this one
    code, _ = refusal_code(
        authorizer(world), signed_fetch(world, other, record_id, decision_id=decision)
    )
    assert code == "token_not_yours"


def test_a_token_for_a_denied_decision_is_refused(world: AppWorld) -> None:
    owner, _, record_id = granted_pair(world)
    stranger = registered(world)  # never granted: its request is denied
    denied = grant_and_decide(world, (owner, stranger, record_id))
    assert not world.apps[1].ledger.audit_by_requester(stranger.member_id)[-1].granted
    code, _ = refusal_code(
        authorizer(world), signed_fetch(world, stranger, record_id, decision_id=denied)
    )
    assert code == "decision_denied"


def test_a_token_naming_another_record_is_refused(world: AppWorld) -> None:
    owner, requester, record_id = granted_pair(world)
    decision = grant_and_decide(world, (owner, requester, record_id))
    second, put = world.put_record(owner, access_limit=10)
    world.commit_all([put])
    world.commit_all([world.grant(owner, second, requester)])
    code, _ = refusal_code(
        authorizer(world), signed_fetch(world, requester, second, decision_id=decision)
    )
    assert code == "decision_other_record"


def test_an_expired_token_or_one_outliving_the_grant_is_refused(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    check = authorizer(world)
    now = world.clock_ms()
    expired = signed_fetch(world, requester, record_id, expires_at_ms=now)
    assert refusal_code(check, expired)[0] == "token_expired"
    grant = world.apps[1].ledger.grant(record_id, requester.member_id)
    assert grant is not None
    too_long = signed_fetch(world, requester, record_id, expires_at_ms=grant.expires_at_ms + 1)
    assert refusal_code(check, too_long)[0] == "token_outlives_grant"
    check.authorize(signed_fetch(world, requester, record_id, expires_at_ms=grant.expires_at_ms))


def test_a_decision_opens_fetches_for_its_window_only() -> None:
    decision = CommittedDecision(bytes(32), bytes(32), True, time_ms=1_000)
    # check_expiry reads the expiries only: the token need not be signed.
    token = AccessToken(bytes(32), bytes(32), bytes(32), 10**15, None, 0, bytes(16))
    check_expiry(token, decision, None, now_ms=1_000 + DECISION_FETCH_WINDOW_MS - 1)
    with pytest.raises(StorageRefused) as caught:
        check_expiry(token, decision, None, now_ms=1_000 + DECISION_FETCH_WINDOW_MS)
    assert caught.value.code == "decision_expired"


def bound(world: AppWorld, member: Member, fetch: FragmentGet, binding: bytes) -> FragmentGet:
    """``fetch`` with ``binding`` as its token's abe_binding, signed again by ``member``."""
    token = dataclasses.replace(fetch.token, abe_binding=binding)
    return FragmentGet(token.signed(member.key, world.genesis.chain_id))


def test_an_owner_grant_record_takes_no_abe_binding(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    fetch = bound(world, requester, signed_fetch(world, requester, record_id), b"\x01" * 32)
    code, message = refusal_code(authorizer(world), fetch)
    assert (code, "owner-grant" in message) == ("abe_binding_unexpected", True)


def test_a_fragment_get_without_a_token_is_refused(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    encoded = signed_fetch(world, requester, record_id).to_bytes()
    version_one = encoded[:1] + b"\x01" + encoded[2:]
    with pytest.raises(OutdatedFragmentGet, match="no access token"):
        FragmentGet.from_bytes(version_one)
    app = world.apps[1]
    keeper = FragmentKeeper(app.ledger, app.local, 1, world.clock_ms)
    with pytest.raises(StorageRefused) as caught:
        trio.run(keeper.serve_get, version_one)
    assert caught.value.status == 400
    assert "no access token" in caught.value.message


@mock_clock_test
async def test_a_fetch_body_without_a_token_is_answered_no_token(tmp_path: Path) -> None:
    async with registered_node(tmp_path / "net") as (client, member):
        response = await client.post(f"/records/{'00' * 32}/data", json=fetch_body(member))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "no_token"


@pytest.fixture(scope="module")
def keyed() -> AppWorld:
    """A world whose genesis deals the domain and FAME keys policy records need."""
    return make_world(authority_keys=True)


def test_a_policy_record_token_is_bounded_by_its_decision_not_a_grant(keyed: AppWorld) -> None:
    world = keyed
    owner = registered(world, MemberRole.OWNER)
    doctor, register = world.member(MemberRole.REQUESTER, attributes=("role:doctor",))
    world.commit_all([register])
    world.commit_all([world.publish_key(doctor)])
    world.published.add(doctor.member_id)
    record_id, put, _ = world.put_policy_record(owner, "role:doctor")
    world.commit_all([put])
    binding = doctor_binding(world, record_id)
    request = world.request(doctor, record_id, attributes=("role:doctor",))
    world.submit(ItemKind.REQUEST, request)
    decision = tx_id_of(request)
    world.run_until(lambda: all(app.is_committed(decision) for app in world.apps.values()))
    assert world.apps[1].ledger.audit_by_requester(doctor.member_id)[-1].granted
    far = world.clock_ms() + 10 * DECISION_FETCH_WINDOW_MS  # no grant to outlive
    fetch = signed_fetch(world, doctor, record_id, expires_at_ms=far)
    authorizer(world).authorize(bound(world, doctor, fetch, binding))
    later = world.clock_ms() + DECISION_FETCH_WINDOW_MS + 1
    late = signed_fetch(world, doctor, record_id, timestamp_ms=later, expires_at_ms=far)
    late = bound(world, doctor, late, binding)
    assert refusal_code(authorizer(world, clock=lambda: later), late)[0] == "decision_expired"


def doctor_binding(world: AppWorld, record_id: bytes) -> bytes:
    """The abe_binding a holder of a ``role:doctor`` attribute key makes for ``record_id``."""
    entry = world.apps[1].ledger.record(record_id)
    assert entry is not None
    assert world.fame is not None
    dual = DualRecord.from_bytes(entry.abe_ciphertext, world.group)
    key = keygen(world.fame, ["role:doctor"])
    return abe_binding(record_id, recover_abe_part(world.fame.public, key, dual))


def granted_policy_record(world: AppWorld, *, key_check: bool = True) -> tuple[Member, bytes]:
    """A doctor granted a fresh ``role:doctor`` policy record (sealed without a key check,
    as before version 3, when ``key_check`` is false)."""
    owner = registered(world, MemberRole.OWNER)
    doctor, register = world.member(MemberRole.REQUESTER, attributes=("role:doctor",))
    world.commit_all([register, world.publish_key(doctor)])
    world.published.add(doctor.member_id)
    record_id, put, _ = world.put_policy_record(owner, "role:doctor", key_check=key_check)
    world.commit_all([put])
    request = world.request(doctor, record_id, attributes=("role:doctor",))
    world.submit(ItemKind.REQUEST, request)
    decision = tx_id_of(request)
    world.run_until(lambda: all(app.is_committed(decision) for app in world.apps.values()))
    return doctor, record_id


def test_a_policy_record_needs_the_right_abe_binding(keyed: AppWorld) -> None:
    world = keyed
    doctor, record_id = granted_policy_record(world)
    check = authorizer(world)
    missing = signed_fetch(world, doctor, record_id)
    assert refusal_code(check, missing)[0] == "abe_binding_missing"
    right = doctor_binding(world, record_id)
    for wrong in (bytes(32), abe_binding(record_id, bytes(32)), right[::-1]):
        fetch = bound(world, doctor, signed_fetch(world, doctor, record_id), wrong)
        assert refusal_code(check, fetch)[0] == "abe_binding_wrong"
    # Refusals spent no nonce: the right binding is served under a fresh one.
    check.authorize(bound(world, doctor, signed_fetch(world, doctor, record_id), right))


def test_a_policy_record_without_a_key_check_takes_no_binding(keyed: AppWorld) -> None:
    world = keyed
    doctor, record_id = granted_policy_record(world, key_check=False)
    check = authorizer(world)
    fetch = bound(world, doctor, signed_fetch(world, doctor, record_id), bytes(32))
    assert refusal_code(check, fetch)[0] == "abe_binding_unexpected"
    check.authorize(signed_fetch(world, doctor, record_id))
