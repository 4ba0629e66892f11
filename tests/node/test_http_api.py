"""The HTTP API served for real by hypercorn on trio, exercised with httpx."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
from prometheus_client import CollectorRegistry

from node.http import (
    ApiMetrics,
    HttpConfig,
    HttpConfigError,
    TransactionRejected,
    build_app,
    run_http,
)
from node.view import NodeStatus
from tests.node.p2p.p2p_testing import PATIENCE, all_tasks, trio_test

STATUS = NodeStatus(
    chain_id="test-chain",
    genesis_hash="00" * 32,
    node_index=1,
    peer_id="12D3KooW",
    height=7,
    head_hash="11" * 32,
    head_time_ms=1_700_000_000_000,
    peers_connected=1,
    peers=("12D3KooX",),
    round=0,
    pending=0,
    syncing=False,
)


class FakeNode:
    """Accepts transactions unless they start with 0x00 (rejected) or are b"boom" (crash).

    Only ``/status`` and ``POST /tx`` of the :class:`~node.view.NodeView` are answered."""

    def __init__(self) -> None:
        self.accepted: list[bytes] = []

    def status(self) -> NodeStatus:
        return STATUS

    async def submit_transaction(self, raw: bytes) -> str:
        if raw == b"boom":
            raise RuntimeError("database on fire")
        if raw[:1] == b"\x00":
            raise TransactionRejected("signature does not verify")
        self.accepted.append(raw)
        return hashlib.sha256(raw).hexdigest()


@asynccontextmanager
async def serving(
    max_body_bytes: int = 1024, config: HttpConfig | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeNode]]:
    node = FakeNode()
    app = build_app(node, ApiMetrics(CollectorRegistry()), max_body_bytes=max_body_bytes)
    async with trio.open_nursery() as nursery:
        with trio.fail_after(PATIENCE):
            urls = await nursery.start(run_http, app, config or HttpConfig(port=0))
        async with httpx.AsyncClient(base_url=urls[0], timeout=PATIENCE) as client:
            yield client, node
        nursery.cancel_scope.cancel()


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json")
    code: str = response.json()["error"]["code"]
    assert response.json()["error"]["message"]
    return code


@trio_test
async def test_status_and_submission() -> None:
    async with serving() as (client, node):
        status = await client.get("/status")
        assert status.status_code == 200
        assert status.json() == {**dataclasses.asdict(STATUS), "peers": ["12D3KooX"]}
        submitted = await client.post("/tx", json={"tx": "c0ffee"})
        assert submitted.status_code == 202
        assert submitted.json() == {"tx_id": hashlib.sha256(b"\xc0\xff\xee").hexdigest()}
        assert node.accepted == [b"\xc0\xff\xee"]


JSON = {"content-type": "application/json"}
TEXT = {"content-type": "text/plain"}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{not json", "headers": JSON}, 400, "bad_request"),
        ({"content": b"\xff\xfe", "headers": JSON}, 400, "bad_request"),
        ({"json": ["tx", "00"]}, 400, "bad_request"),
        ({"json": {}}, 400, "bad_request"),
        ({"json": {"tx": 5}}, 400, "bad_request"),
        ({"json": {"tx": "xyz"}}, 400, "bad_request"),
        ({"content": b"tx=00", "headers": TEXT}, 415, "unsupported_media_type"),
        ({"json": {"tx": "00" * 2048}}, 413, "too_large"),
        ({"json": {"tx": "00aa"}}, 422, "rejected"),
    ],
)
def test_malformed_or_refused_submissions_get_json_errors(
    kwargs: dict[str, Any], status: int, code: str
) -> None:
    @trio_test
    async def check() -> None:
        async with serving() as (client, node):
            response = await client.post("/tx", **kwargs)
            assert response.status_code == status
            assert error_code(response) == code
            assert node.accepted == []
            # The server is still fine afterwards.
            assert (await client.get("/status")).status_code == 200

    check()


@trio_test
async def test_streamed_body_over_the_limit_is_cut_off() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length with a streamed body: only the running count can catch it.
        for _ in range(4):
            yield b" " * 300

    async with serving() as (client, node):
        response = await client.post("/tx", content=chunks(), headers=JSON)
        assert response.status_code == 413
        assert error_code(response) == "too_large"
        assert node.accepted == []


@trio_test
async def test_unknown_routes_methods_and_crashes_are_json_too() -> None:
    async with serving() as (client, _):
        missing = await client.get("/nowhere")
        assert missing.status_code == 404
        assert error_code(missing) == "not_found"
        wrong_method = await client.get("/tx")
        assert wrong_method.status_code == 405
        assert error_code(wrong_method) == "method_not_allowed"
        crash = await client.post("/tx", json={"tx": b"boom".hex()})
        assert crash.status_code == 500
        assert error_code(crash) == "internal"
        assert "fire" not in crash.text
        assert (await client.get("/status")).status_code == 200


@trio_test
async def test_metrics_count_requests_by_route_template() -> None:
    async with serving() as (client, _):
        await client.get("/status")
        await client.get("/status")
        await client.get("/random/path/123")
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        counter = "iomtshare_http_requests_total"
        assert counter + '{method="GET",route="/status",status="200"} 2.0' in text
        assert counter + '{method="GET",route="unmatched",status="404"} 1.0' in text
        assert "/random/path" not in text


def test_the_api_stays_on_loopback_unless_told_otherwise() -> None:
    assert HttpConfig().bind() == "127.0.0.1:8080"
    assert HttpConfig(host="::1", port=9).bind() == "[::1]:9"
    with pytest.raises(HttpConfigError, match="allow_public"):
        HttpConfig(host="0.0.0.0").bind()
    assert HttpConfig(host="0.0.0.0", allow_public=True).bind() == "0.0.0.0:8080"
    with pytest.raises(HttpConfigError, match="IP address"):
        HttpConfig(host="localhost; rm -rf").bind()
    with pytest.raises(HttpConfigError, match="out of range"):
        HttpConfig(port=70000).bind()


@trio_test
async def test_cancelling_the_server_frees_the_port_and_its_tasks() -> None:
    before = all_tasks()
    async with serving() as (client, _):
        port = client.base_url.port
        assert (await client.get("/status")).status_code == 200
    assert all_tasks() == before
    assert port is not None
    with pytest.raises(OSError, match="connect"):
        await trio.open_tcp_stream("127.0.0.1", port)


@trio_test
async def test_a_client_that_stalls_mid_request_is_disconnected() -> None:
    async with serving(config=HttpConfig(port=0, read_timeout_seconds=1)) as (client, _):
        port = client.base_url.port
        assert port is not None
        with trio.fail_after(PATIENCE):
            stalled = await trio.open_tcp_stream("127.0.0.1", port)
            await stalled.send_all(b"POST /tx HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            # The server gives up on the silent client and closes; reading then ends.
            while await stalled.receive_some(4096):
                pass
            await stalled.aclose()
        assert (await client.get("/status")).status_code == 200
