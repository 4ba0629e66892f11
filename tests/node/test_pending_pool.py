"""The persistent pool: an accepted submission is on disk until decided (node/pending_pool.py).

The area's bounds and bookkeeping over a store, then whole nodes in process on trio's autojump
clock (tests/node/restartable.py): a submission accepted while quorum is lost is kept across
rounds and across a crash of every node that held it, and is decided once quorum is back; the
client can ask its fate at every step.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ledger.kv import MemoryStore
from ledger.transactions import MemberRole, tx_id_of
from node.localstore import LocalStore
from node.pending_pool import (
    FATE_PREFIX,
    SUBMISSION_PREFIX,
    AcceptedSubmissions,
    CannotAccept,
    SubmissionLimits,
)
from tests.node.app_world import Member, make_world
from tests.node.inprocess import mock_clock_test
from tests.node.restartable import RestartableNetwork, restartable_network


def ident(n: int) -> bytes:
    return bytes([n]) * 32


# -- the area on disk -------------------------------------------------------------------------


def test_the_area_keeps_submissions_in_arrival_order_across_reopening() -> None:
    store = MemoryStore()
    area = AcceptedSubmissions(store)
    for n in (3, 1, 2):
        area.add(ident(n), bytes([n]) * 10)
    area.add(ident(1), b"ignored: already kept")
    again = AcceptedSubmissions(store)
    assert again.ids() == [ident(3), ident(1), ident(2)]
    assert again.read(ident(1)) == bytes([1]) * 10
    assert again.stored_bytes == 30
    again.remove(ident(1))
    again.remove(ident(3), "stale: too old")
    third = AcceptedSubmissions(store)
    assert third.ids() == [ident(2)]
    assert third.stored_bytes == 10
    assert third.dropped_reason(ident(3)) == "stale: too old"
    assert third.dropped_reason(ident(1)) is None
    # Submitted again after it was dropped: pending once more, the old fate forgotten.
    third.add(ident(3), b"back")
    assert AcceptedSubmissions(store).dropped_reason(ident(3)) is None


def test_a_full_area_refuses_and_stores_nothing() -> None:
    store = MemoryStore()
    area = AcceptedSubmissions(store, SubmissionLimits(max_count=2, max_bytes=100))
    area.add(ident(1), b"x" * 60)
    with pytest.raises(CannotAccept, match="limit"):
        area.add(ident(2), b"y" * 41)  # over the bytes
    area.add(ident(2), b"y" * 40)
    with pytest.raises(CannotAccept, match="2 undecided submissions"):
        area.add(ident(3), b"z")  # over the count
    assert list(store.keys(SUBMISSION_PREFIX)) == [SUBMISSION_PREFIX + ident(n) for n in (1, 2)]
    area.remove(ident(1))
    area.add(ident(3), b"z")  # room again


def test_fates_are_bounded_oldest_first() -> None:
    store = MemoryStore()
    area = AcceptedSubmissions(store, SubmissionLimits(max_fates=2))
    for n in (1, 2, 3):
        area.add(ident(n), b"tx")
        area.remove(ident(n), f"reason {n}" + "!" * 400)
    reopened = AcceptedSubmissions(store, SubmissionLimits(max_fates=2))
    assert reopened.dropped_reason(ident(1)) is None
    assert reopened.dropped_reason(ident(3)) == "reason 3" + "!" * 292  # cut to 300 characters
    assert len(list(store.keys(FATE_PREFIX))) == 2


def test_unreadable_entries_are_dropped_on_open() -> None:
    store = MemoryStore()
    store.write(
        {
            SUBMISSION_PREFIX + b"short id": b"\x00" * 9,
            SUBMISSION_PREFIX + ident(1): b"\x00",  # no room for a transaction
            FATE_PREFIX + ident(2): b"\x00" * 8 + b"\xff",  # not UTF-8
        }
    )
    area = AcceptedSubmissions(store)
    assert len(area) == 0
    assert list(store.keys()) == []


def test_a_write_the_disk_refuses_is_not_an_acceptance() -> None:
    store = MemoryStore()
    area = AcceptedSubmissions(store)
    store.close()
    with pytest.raises(CannotAccept, match="cannot store"):
        area.add(ident(1), b"tx")
    assert len(area) == 0


def test_the_area_lives_in_the_node_local_leveldb(tmp_path: Path) -> None:
    local = LocalStore.open(tmp_path / "node")
    local.submissions.add(ident(7), b"signed tx")
    local.close()
    reopened = LocalStore.open(tmp_path / "node")
    try:
        assert reopened.submissions.ids() == [ident(7)]
        assert reopened.submissions.read(ident(7)) == b"signed tx"
    finally:
        reopened.close()


# -- whole nodes --------------------------------------------------------------------------------


async def commit(network: RestartableNetwork, raw: bytes, nodes: list[int]) -> None:
    await network.running[nodes[0]].view.submit_transaction(raw)
    await network.until(lambda: network.committed(tx_id_of(raw), nodes))


async def shared_record(network: RestartableNetwork) -> tuple[Member, bytes]:
    """A requester granted a fresh record, committed on every node."""
    world, everyone = network.world, [1, 2, 3, 4]
    owner, register_owner = world.member(MemberRole.OWNER)
    requester, register_requester = world.member(MemberRole.REQUESTER)
    for raw in (register_owner, register_requester):
        await commit(network, raw, everyone)
    for member in (owner, requester):
        await commit(network, world.publish_key(member), everyone)
        world.published.add(member.member_id)
    record_id, put = world.put_record(owner)
    await commit(network, put, everyone)
    await commit(network, world.grant(owner, record_id, requester), everyone)
    return requester, record_id


async def fate(client: httpx.AsyncClient, tx_id: bytes) -> str:
    answer = await client.get(f"/tx/{tx_id.hex()}/fate")
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


@mock_clock_test
async def test_a_submission_accepted_without_quorum_is_decided_after_every_holder_crashed() -> (
    None
):
    world = make_world()
    async with restartable_network(world) as network:
        requester, record_id = await shared_record(network)
        network.crash(3)
        network.crash(4)
        _, register = world.member(MemberRole.REQUESTER)
        request = world.request(requester, record_id)
        tx_id, request_id = tx_id_of(register), tx_id_of(request)
        async with network.client(1) as client:
            for raw in (register, request):
                accepted = await client.post("/tx", json={"tx": raw.hex()})
                assert accepted.status_code == 202, accepted.text
            # Rounds come and go without a quorum; nothing is dropped.
            pending = await client.get(f"/requests/{request_id.hex()}", params={"wait": 30})
            assert pending.json()["status"] == "pending"
            assert await fate(client, tx_id) == "pending"
            unknown = await client.get(f"/tx/{tx_id.hex()}")
            assert unknown.status_code == 404
            assert "pending here" in unknown.json()["error"]["message"]
        assert network.parts[1].consensus.machine.round >= 2
        # Node 2 got the relays; crash it too, so that no memory anywhere holds them.
        network.crash(2)
        network.crash(1)
        await network.start(1)
        async with network.client(1) as client:
            assert await fate(client, tx_id) == "pending"
            again = await client.get(f"/requests/{request_id.hex()}")
            assert again.json()["status"] == "pending"
            for index in (2, 3, 4):
                await network.start(index)
            decided = await client.get(f"/requests/{request_id.hex()}", params={"wait": 60})
            assert decided.json()["status"] == "granted", decided.text
            await network.until(lambda: network.committed(tx_id, [1, 2, 3, 4]))
            assert await fate(client, tx_id) == "committed"
            committed = await client.get(f"/tx/{tx_id.hex()}")
            assert committed.json()["status"] == "committed"
        await network.until(lambda: len(network.parts[1].consensus.pending) == 0)
        heads = {network.parts[i].app.ledger.head() for i in (1, 2, 3, 4)}
        assert len(heads) == 1


@mock_clock_test
async def test_a_request_gone_stale_without_quorum_is_dropped_with_its_reason() -> None:
    world = make_world()
    async with restartable_network(world) as network:
        requester, record_id = await shared_record(network)
        network.crash(3)
        network.crash(4)
        request = world.request(requester, record_id)
        request_id = tx_id_of(request)
        async with network.client(1) as client:
            accepted = await client.post("/tx", json={"tx": request.hex()})
            assert accepted.status_code == 202
            world.now += world.genesis.freshness_window_ms / 1000 + 1
            # The next round end finds it stale: dropped, and the client is told why.
            await network.until(lambda: request_id not in network.parts[1].consensus.pending)
            answer = await client.get(f"/requests/{request_id.hex()}", params={"wait": 5})
            assert answer.status_code == 410
            assert answer.json()["error"]["code"] == "dropped"
            assert "freshness window" in answer.json()["error"]["message"]
            assert (await client.get(f"/tx/{request_id.hex()}")).status_code == 410
            described = await client.get(f"/tx/{request_id.hex()}/fate")
            assert described.json()["status"] == "dropped"
            assert "stale" in described.json()["reason"]
        network.crash(1)
        await network.start(1)
        async with network.client(1) as client:
            kept = await client.get(f"/tx/{request_id.hex()}/fate")
            assert kept.json()["status"] == "dropped"
            unknown = await client.get(f"/tx/{'ab' * 32}/fate")
            assert unknown.status_code == 404


@mock_clock_test
async def test_a_full_pool_answers_503_and_keeps_nothing() -> None:
    world = make_world()
    async with restartable_network(world, limits=SubmissionLimits(max_count=1)) as network:
        network.crash(3)
        network.crash(4)
        first, second = (world.member(MemberRole.REQUESTER)[1] for _ in range(2))
        async with network.client(1) as client:
            assert (await client.post("/tx", json={"tx": first.hex()})).status_code == 202
            refused = await client.post("/tx", json={"tx": second.hex()})
            assert refused.status_code == 503
            assert "undecided submissions" in refused.json()["error"]["message"]
            assert (await client.get(f"/tx/{tx_id_of(second).hex()}/fate")).status_code == 404
        assert network.parts[1].consensus.pending.dropped_reason(tx_id_of(second)) is None
        assert tx_id_of(second) not in network.parts[1].consensus.machine.pool
