"""A node that is behind says "retry: syncing" (503 + Retry-After) instead of a final refusal.

A lagging node used to answer 400 ``invalid_transaction`` ("not a registered member") to a
KeyUpdate that was valid on the chain it had not caught up to yet. Refusals that do not depend
on state (malformed, bad content, not signed by the authority) stay final. The client library
retries a 503 that carries Retry-After.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from client import NodeClient, NodeError
from crypto.signing import SigningKey
from ledger.transactions import AccessRequest, MemberRole, RegisterMember
from tests.node.app_world import AppWorld, Member
from tests.node.lagging_node import StubService, api_client, fresh_application, post_tx
from tests.node.p2p.p2p_testing import trio_test


def lagging(world: AppWorld) -> StubService:
    """A node with nothing committed that has seen its peers far ahead."""
    service = StubService(fresh_application(world), 1)
    service.fall_behind(world.apps[1].ledger.height + 5)
    return service


def valid_on_chain(world: AppWorld, shared: tuple[Member, Member, bytes]) -> dict[str, bytes]:
    owner, requester, record_id = shared
    request = AccessRequest(
        requester=requester.member_id,
        record_id=record_id,
        keywords_hash=bytes(32),
        attribute_hashes=(),
        timestamp_ms=world.clock_ms(),
        nonce=secrets.token_bytes(16),
    )
    return {
        "KeyUpdate": world.publish_key(requester),
        "Grant": world.grant(owner, record_id, requester),
        "AccessRequest": world.sign(request, requester.key),
    }


def assert_syncing(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    error = response.json()["error"]
    assert error["code"] == "syncing"
    assert "catching up" in error["message"]


@trio_test
async def test_a_lagging_node_answers_retry_syncing(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    transactions = valid_on_chain(world, shared)
    # Each is admitted by a node that has the chain.
    for raw in transactions.values():
        assert world.apps[1].transaction_problem(raw) is None
    service = lagging(world)
    async with api_client(service) as client:
        for name, raw in transactions.items():
            response = await post_tx(client, raw)
            assert_syncing(response)
            assert service.submitted == [], name


@trio_test
async def test_a_node_that_is_not_behind_keeps_its_final_answer(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    service = StubService(fresh_application(world), 1)  # has seen no peer ahead of it
    async with api_client(service) as client:
        response = await post_tx(client, valid_on_chain(world, shared)["KeyUpdate"])
        assert response.status_code == 400
        assert "retry-after" not in response.headers
        assert response.json()["error"]["code"] == "invalid_transaction"


@trio_test
async def test_refusals_that_do_not_depend_on_state_stay_final_while_syncing(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, requester, _ = shared
    newcomer = SigningKey.generate()
    register = RegisterMember(
        member_id=requester.member_id,  # not the hash of the newcomer's key
        verify_key=newcomer.verify_key.raw,
        box_key=requester.box.public_key.raw,
        role=int(MemberRole.REQUESTER),
        attributes=(),
        registered_at_ms=world.clock_ms(),
    )
    cases = {
        "not a transaction": (b"\x99garbage", "malformed"),
        "foreign member id": (world.sign(register, world.authority), "invalid_transaction"),
        "not signed by the authority": (world.sign(register, newcomer), "bad_signature"),
    }
    async with api_client(lagging(world)) as client:
        for name, (raw, code) in cases.items():
            response = await post_tx(client, raw)
            assert response.status_code == 400, name
            assert response.json()["error"]["code"] == code, name


# -- the client ---------------------------------------------------------------------------------


def syncing_then_accepted(failures: int, retry_after: str = "2") -> httpx.MockTransport:
    answers = [
        httpx.Response(
            503,
            json={"error": {"code": "syncing", "message": "node is catching up"}},
            headers={"Retry-After": retry_after},
        )
        for _ in range(failures)
    ]
    answers.append(httpx.Response(202, json={"tx_id": "ab" * 32}))

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    return httpx.MockTransport(handler)


def test_the_client_retries_a_syncing_node_after_the_pause_it_asks() -> None:
    pauses: list[float] = []
    transport = syncing_then_accepted(2)
    client = NodeClient("http://node", transport=transport, sleep=pauses.append, spread=lambda: 0.0)
    with client:
        assert client.submit_tx(b"\x01") == "ab" * 32
    assert pauses == [2.0, 2.0]


@pytest.mark.parametrize(("retry_after", "pause"), [("0", 0.25), ("3600", 10.0)])
def test_the_client_bounds_each_pause(retry_after: str, pause: float) -> None:
    pauses: list[float] = []
    transport = syncing_then_accepted(1, retry_after)
    client = NodeClient("http://node", transport=transport, sleep=pauses.append, spread=lambda: 0.0)
    with client:
        client.submit_tx(b"\x01")
    assert pauses == [pause]


def test_the_client_gives_up_after_its_retry_budget() -> None:
    pauses: list[float] = []
    transport = syncing_then_accepted(100)
    client = NodeClient(
        "http://node", transport=transport, sleep=pauses.append, retry_budget=5, spread=lambda: 0.0
    )
    with client, pytest.raises(NodeError) as info:
        client.submit_tx(b"\x01")
    assert (info.value.status, info.value.code) == (503, "syncing")
    assert pauses == [2.0, 2.0]


def test_refused_clients_do_not_all_come_back_together() -> None:
    draws = iter([0.0, 0.5, 0.999])
    pauses: list[float] = []
    transport = syncing_then_accepted(3)
    client = NodeClient(
        "http://node", transport=transport, sleep=pauses.append, spread=lambda: next(draws)
    )
    with client:
        client.submit_tx(b"\x01")
    assert pauses == [2.0, 2.5, pytest.approx(2.999)]


def test_a_503_without_retry_after_is_not_retried() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "busy"}})

    pauses: list[float] = []
    transport = httpx.MockTransport(handler)
    client = NodeClient("http://node", transport=transport, sleep=pauses.append, spread=lambda: 0.0)
    with client, pytest.raises(NodeError) as info:
        client.submit_tx(b"\x01")
    assert info.value.code == "unavailable"
    assert pauses == []
