"""Shared fixtures of the node tests: one in-memory application world per test session."""

from __future__ import annotations

import pytest

from ledger.transactions import MemberRole
from tests.node.app_world import AppWorld, Member, make_world


@pytest.fixture(scope="session")
def world() -> AppWorld:
    return make_world()


@pytest.fixture(scope="session")
def shared(world: AppWorld) -> tuple[Member, Member, bytes]:
    """An owner, a requester granted the owner's record (access limit 50), and that record."""
    owner, register_owner = world.member(MemberRole.OWNER)
    requester, register_requester = world.member(MemberRole.REQUESTER)
    world.commit_all([register_owner, register_requester])
    record_id, put = world.put_record(owner, access_limit=50)
    world.commit_all([put])
    world.commit_all([world.grant(owner, record_id, requester)])
    return owner, requester, record_id
