"""A busy node's refusal of ``POST /tx``: 503 ``busy`` with Retry-After, and nothing kept.

The real :class:`node.live_view.LiveView` and :class:`node.shedding.Shedding` over a stub
consensus loop whose backlog the test sets (tests/node/lagging_node.py); when and why a node
says so is tests/node/test_shedding.py, and the whole path with real node processes is
tests/integration/test_load_shedding.py.
"""

from __future__ import annotations

from tests.node.app_world import AppWorld, Member
from tests.node.lagging_node import StubService, api_client, post_tx
from tests.node.p2p.p2p_testing import trio_test


@trio_test
async def test_a_busy_node_refuses_and_keeps_nothing(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, requester, record_id = shared
    raw = world.request(requester, record_id)
    service = StubService(world.apps[1], 1)
    service.waiting = (40, 1.5)  # 40 undecided items, the oldest waiting for 1.5 s
    async with api_client(service) as client:
        response = await post_tx(client, raw)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        error = response.json()["error"]
        assert error["code"] == "busy"
        assert "behind" in error["message"]
        assert service.submitted == []
        # Its nonce was not used: the same bytes are taken once the node is no longer busy.
        service.waiting = (40, 0.2)
        response = await post_tx(client, raw)
        assert response.status_code == 202, response.text
        assert [item.body for item in service.submitted] == [raw]
