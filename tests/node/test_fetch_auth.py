"""Fetch authorization: only a standing grant opens fragments, and nonces outlive restarts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.kv import MemoryStore
from ledger.transactions import MemberRole
from node.fetch_auth import FetchAuthorizer
from node.fetch_nonces import FetchNonces
from node.localstore import LocalStore
from node.refusals import StorageRefused
from tests.node.app_world import AppWorld, Member
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
    later = signed_fetch(world, requester, record_id, timestamp_ms=world.clock_ms() + 2 * HOUR_MS)
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
    fetch = signed_fetch(world, owner, record_id)  # the owner holds no grant of its own record
    assert refusal_code(authorizer(world, local), fetch)[0] == "not_granted"
    assert not nonces.seen(owner.member_id, fetch.nonce)


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
