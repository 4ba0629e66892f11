"""``GET /`` (every route described), ``GET /health`` (ready or 503 with the reason) and the web
explorer's files (served with a strict CSP, nothing else under /explorer/static), over a
stand-in view."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from node.http import ApiMetrics, build_app
from node.http.index import DESCRIPTIONS, endpoints
from node.http.webexplorer import STATIC_TYPES
from node.view import NodeStatus
from tests.node.p2p.p2p_testing import trio_test

STATIC = Path(__file__).resolve().parents[3] / "node" / "http" / "static"

READY = NodeStatus(
    chain_id="test-chain",
    genesis_hash="00" * 32,
    node_index=1,
    peer_id="12D3KooW",
    height=7,
    head_hash="11" * 32,
    head_time_ms=1_700_000_000_000,
    peers_connected=2,
    peers=("a", "b"),
    round=0,
    pending=0,
    syncing=False,
)


@dataclasses.dataclass
class _Genesis:
    chain_id: str = "test-chain"
    quorum: int = 3


class StatusOnly:
    """A view that answers ``status`` and ``genesis``, all ``/`` and ``/health`` ask."""

    def __init__(self, status: NodeStatus) -> None:
        self._status = status
        self.genesis = _Genesis()

    def status(self) -> NodeStatus:
        return self._status


def _app(status: NodeStatus = READY) -> Starlette:
    return build_app(StatusOnly(status), ApiMetrics(CollectorRegistry()))  # type: ignore[arg-type]


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node")


def test_every_route_has_a_description() -> None:
    served = set(endpoints(_app().routes))
    undescribed = served - set(DESCRIPTIONS)
    assert not undescribed, f"add these to node.http.index.DESCRIPTIONS: {sorted(undescribed)}"
    assert ("GET", "/explorer") in served
    assert ("GET", "/records/{record_id}/fragments") in served
    assert ("POST", "/records/{record_id}/fragments") in served


@trio_test
async def test_root_lists_the_endpoints() -> None:
    async with _client(_app()) as client:
        answer = await client.get("/")
    assert answer.status_code == 200
    document = answer.json()
    assert document["chain_id"] == "test-chain"
    assert document["explorer"] == "/explorer"
    listed = [(e["method"], e["path"]) for e in document["endpoints"]]
    assert set(listed) == set(endpoints(_app().routes))
    assert ("GET", "/") in listed
    assert all(e["description"] for e in document["endpoints"])


@trio_test
async def test_health_is_200_when_ready_and_503_with_the_reason_otherwise() -> None:
    async with _client(_app()) as client:
        ready = await client.get("/health")
    assert ready.status_code == 200
    assert ready.json() == {"ok": True, "height": 7, "peers_connected": 2}

    lonely = dataclasses.replace(READY, peers_connected=1, syncing=True)
    async with _client(_app(lonely)) as client:
        down = await client.get("/health")
    assert down.status_code == 503
    error = down.json()["error"]
    assert error["code"] == "unavailable"
    assert "catching up" in error["message"]
    assert "1 peers connected, a quorum needs 2" in error["message"]


@trio_test
async def test_the_explorer_page_and_files_are_served_with_a_strict_policy() -> None:
    async with _client(_app()) as client:
        page = await client.get("/explorer")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        # Everything the page loads comes from this node.
        for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert src.startswith(("/", "#")), src
            if src.startswith("/explorer/static/"):
                asset = await client.get(src)
                assert asset.status_code == 200, src
                assert asset.headers["content-security-policy"] == policy
        script = await client.get("/explorer/static/explorer.js")
        assert script.headers["content-type"].startswith("text/javascript")
        for name in ("nothing.js", "explorer.html", "..%2Fapp.py", "%2e%2e%2fapp.py"):
            missing = await client.get(f"/explorer/static/{name}")
            assert missing.status_code == 404, name
            assert missing.json()["error"]["code"] == "not_found"


def test_the_scripts_never_write_html() -> None:
    # Text goes in as text nodes; these are the ways a script could parse HTML instead.
    sinks = re.compile(r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|"
                       r"new Function|\.setAttribute\(\s*['\"]on")
    for name in STATIC_TYPES:
        if name.endswith(".js"):
            text = (STATIC / name).read_text()
            assert not sinks.search(text), name


@pytest.mark.parametrize("name", sorted(STATIC_TYPES))
def test_every_static_file_exists(name: str) -> None:
    assert (STATIC / name).is_file()
