"""The edge's per-client limit on the HTTP routes that cost proof requests: 429
``rate_limited`` with ``Retry-After``, counted in /metrics, per client address, with a bounded
number of addresses tracked; and its settings from config.toml."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ledger.header_chain import HeaderChain
from ledger.kv import MemoryStore
from ledger.testing import ChainFixture
from node.edge.client_limit import CLIENT_BURST, CLIENT_PER_SECOND, ClientLimit, limit_settings
from node.edge.http import edge_app
from node.edge.proofs import ItemNotFound, ProofFetcher
from node.http.server import HttpConfigError


class MissingProofs:
    """A fetcher that knows no item, counting the fetches that reach it."""

    def __init__(self) -> None:
        self.refused: dict[str, int] = {}
        self.asked = 0

    async def fetch_tx(self, tx_id: bytes, *, quick: bool = False) -> Any:
        self.asked += 1
        raise ItemNotFound("no such transaction")

    async def fetch_decision(self, request_id: bytes, *, quick: bool = False) -> Any:
        self.asked += 1
        raise ItemNotFound("no such decision")


Call = tuple[str, str, tuple[str, int]]  # method, path, client address


def drive(app: Any, calls: list[Call]) -> list[httpx.Response]:
    async def main() -> list[httpx.Response]:
        answers = []
        for method, path, client in calls:
            transport = httpx.ASGITransport(app=app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
                answers.append(await http.request(method, path))
        return answers

    return trio.run(main)


def test_a_client_over_its_burst_gets_429_counted_while_others_pass() -> None:
    chain = HeaderChain(MemoryStore(), ChainFixture(4).genesis)
    proofs = MissingProofs()
    app = edge_app(chain, lambda: 4, lambda: {}, cast(ProofFetcher, proofs),
                   client_limit=(2, 0.5))
    flood, other = ("198.51.100.7", 1000), ("198.51.100.8", 1000)
    tx = f"/tx/{'ab' * 32}"
    answers = drive(app, [
        ("GET", tx, flood),
        ("GET", f"/decisions/{'cd' * 32}", flood),
        ("GET", tx, flood),  # the third within the burst of 2
        ("POST", f"/devices/{'ef' * 32}/uploads", flood),
        ("POST", f"/records/{'01' * 32}/data", flood),
        ("GET", "/health", flood),  # costs no proof: not limited
        ("GET", tx, other),  # another address has its own bucket
        ("GET", "/metrics", flood),
    ])
    first, second, third, device, data, health, others, metrics = answers
    assert [first.status_code, second.status_code] == [404, 404]
    for refused in (third, device, data):
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["Retry-After"] == "2"
    assert health.status_code == 200
    assert others.status_code == 404
    assert proofs.asked == 3  # the refused requests never reached the fetcher
    text = metrics.text
    assert 'iomtshare_edge_http_rate_limited_total{route="tx"} 1.0' in text
    assert 'iomtshare_edge_http_rate_limited_total{route="device_upload"} 1.0' in text
    assert 'iomtshare_edge_http_rate_limited_total{route="record_data"} 1.0' in text


def test_tokens_come_back_at_the_rate() -> None:
    now = [0.0]
    limit = ClientLimit(_ok_app(), burst=1, per_second=2.0, clock=lambda: now[0])
    me = ("192.0.2.1", 1)
    assert [a.status_code for a in drive(limit, [("GET", "/tx/aa", me)] * 2)] == [200, 429]
    now[0] = 0.5
    assert [a.status_code for a in drive(limit, [("GET", "/tx/aa", me)] * 2)] == [200, 429]


def test_the_tracked_clients_are_bounded_dropping_the_least_recent() -> None:
    limit = ClientLimit(_ok_app(), burst=1, per_second=1e-6, max_clients=2, clock=lambda: 0.0)
    a, b, c = ("192.0.2.1", 1), ("192.0.2.2", 1), ("192.0.2.3", 1)
    answers = drive(limit, [("GET", "/tx/aa", a), ("GET", "/tx/aa", a), ("GET", "/tx/aa", b)])
    assert [x.status_code for x in answers] == [200, 429, 200]
    assert limit.tracked == 2
    # c pushes out a (seen before b); b is kept and stays empty, a comes back with a full bucket.
    answers = drive(limit, [("GET", "/tx/aa", c), ("GET", "/tx/aa", b), ("GET", "/tx/aa", a)])
    assert [x.status_code for x in answers] == [200, 429, 200]
    assert limit.tracked == 2


def test_settings_come_from_the_config_extras() -> None:
    assert limit_settings({}) == (CLIENT_BURST, CLIENT_PER_SECOND)
    assert limit_settings({"http_client_burst": 5, "http_client_per_second": 3}) == (5, 3.0)
    for bad in ({"http_client_burst": 0}, {"http_client_burst": True},
                {"http_client_burst": "8"}, {"http_client_per_second": 0.0},
                {"http_client_per_second": -1}, {"http_client_per_second": "fast"}):
        with pytest.raises(HttpConfigError, match="http_client_"):
            limit_settings(bad)


def _ok_app() -> Starlette:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/tx/{tx_id}", ok)])
