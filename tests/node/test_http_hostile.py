"""Hostile input against the HTTP layer, served for real by hypercorn on trio.

Every case must end in a 4xx answer with the API's JSON error shape, the server must keep
serving, and nothing may reach the catch-all that turns an unexpected exception into a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trio
from prometheus_client import CollectorRegistry

from node.http import ApiMetrics, HttpConfig, build_app, run_http
from tests.node.p2p.p2p_testing import PATIENCE, trio_test
from tests.node.test_http_api import FakeNode

JSON = {"content-type": "application/json"}
INTERNAL_ERRORS = "iomtshare_http_internal_errors_total"


@dataclass
class Served:
    client: httpx.AsyncClient
    node: FakeNode
    registry: CollectorRegistry
    port: int

    def internal_errors(self) -> float | None:
        return self.registry.get_sample_value(INTERNAL_ERRORS)


@asynccontextmanager
async def serving(**app_options: Any) -> AsyncIterator[Served]:
    node = FakeNode()
    registry = CollectorRegistry()
    options = {"max_body_bytes": 1024 * 1024, **app_options}
    app = build_app(node, ApiMetrics(registry), **options)
    async with trio.open_nursery() as nursery:
        with trio.fail_after(PATIENCE):
            urls = await nursery.start(run_http, app, HttpConfig(port=0))
        async with httpx.AsyncClient(base_url=urls[0], timeout=PATIENCE) as client:
            port = client.base_url.port
            assert port is not None
            yield Served(client, node, registry, port)
        nursery.cancel_scope.cancel()


def json_error(status: int, body: bytes) -> tuple[int, str, str]:
    """(status, code, message) of an answer that must carry the JSON error shape."""
    error = json.loads(body)["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    return status, error["code"], error["message"]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_BODIES = [
    # The remote crash of issue 11: 200 KB of nesting; json.loads recursed past the C stack.
    pytest.param(nested(100_000), "nest", id="nesting-200KB"),
    pytest.param(b"[" * 100_000, "nest", id="nesting-unclosed"),
    pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nest", id="nesting-objects"),
    pytest.param(b'{"tx": ' + nested(40) + b"}", "nest", id="nesting-40-in-a-field"),
    # Python refuses to convert integers of more than 4,300 digits (ValueError, was a 500).
    pytest.param(b'{"tx": ' + b"7" * 5000 + b"}", "number", id="int-5000-digits"),
    pytest.param(b'{"tx": -' + b"7" * 5000 + b"}", "number", id="negative-int-5000-digits"),
    pytest.param(b'{"tx": ' + b"1" * 100 + b"}", "number", id="int-100-digits"),
    pytest.param(b'{"tx": 1.' + b"5" * 5000 + b"}", "number", id="float-5000-digits"),
    pytest.param(b'{"tx": NaN}', "not JSON", id="nan"),
    pytest.param(b'{"tx": -Infinity}', "not JSON", id="infinity"),
]


@pytest.mark.parametrize(("body", "says"), HOSTILE_BODIES)
def test_hostile_json_bodies_get_a_400(body: bytes, says: str) -> None:
    @trio_test
    async def check() -> None:
        async with serving() as served:
            response = await served.client.post("/tx", content=body, headers=JSON)
            status, code, message = json_error(response.status_code, response.content)
            assert (status, code) == (400, "bad_request")
            assert says in message
            assert served.node.accepted == []
            assert (await served.client.get("/status")).status_code == 200
            assert served.internal_errors() == 0

    check()


@pytest.mark.parametrize(
    "text",
    [
        '{"tx": "' + "[" * 1000 + '"}',
        '{"tx": "\\"' + "{" * 1000 + '"}',
        '{"tx": "\\\\", "x": "' + "[" * 1000 + '"}',
    ],
    ids=["brackets-in-a-string", "after-an-escaped-quote", "after-an-escaped-backslash"],
)
def test_brackets_inside_strings_are_not_nesting(text: str) -> None:
    @trio_test
    async def check() -> None:
        async with serving() as served:
            response = await served.client.post("/tx", content=text.encode(), headers=JSON)
            _, code, message = json_error(response.status_code, response.content)
            # Refused for its content (not hex), not for its shape.
            assert (response.status_code, code) == (400, "bad_request")
            assert "hex" in message

    check()


@trio_test
async def test_an_ordinary_body_with_a_few_levels_still_works() -> None:
    async with serving() as served:
        body = {"tx": "c0ffee", "extra": [[{"a": [1, 2, -3, 4.5, None, True]}]], "n": 2**64}
        response = await served.client.post("/tx", json=body)
        assert response.status_code == 202
        assert served.node.accepted == [b"\xc0\xff\xee"]


async def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes, read until the server closes; the status and the body."""
    with trio.fail_after(PATIENCE):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(request)
            answer = b""
            while chunk := await stream.receive_some(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


SERVER_LAYER = [
    pytest.param(
        b"POST /tx HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
        b"Content-Type: application/json\r\n\r\n",
        400,
        "unsupported_transfer_encoding",
        id="transfer-encoding-gzip",
    ),
    pytest.param(b"BLAH\r\n\r\n", 400, "bad_request", id="not-http"),
    pytest.param(b"GET /status HTTP/1.1\r\n\r\n", 400, "bad_request", id="no-host"),
    pytest.param(
        b"POST /tx HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        400,
        "bad_request",
        id="content-length-not-a-number",
    ),
    pytest.param(b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request", id="non-ascii-path"),
    pytest.param(
        # Never finished: the headers outgrow the server's buffer while incomplete.
        b"GET /status HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 40_000,
        431,
        "headers_too_large",
        id="headers-too-large",
    ),
]


@pytest.mark.parametrize(("request_bytes", "status", "code"), SERVER_LAYER)
def test_the_server_layer_answers_with_json_errors(
    request_bytes: bytes, status: int, code: str
) -> None:
    @trio_test
    async def check() -> None:
        async with serving() as served:
            got, body = await exchange(served.port, request_bytes)
            assert json_error(got, body)[:2] == (status, code)
            assert (await served.client.get("/status")).status_code == 200

    check()


async def send_body_slowly(stream: trio.SocketStream, chunks: list[bytes], pause: float) -> None:
    """Trickle ``chunks`` until the server hangs up (sending then fails, which ends this)."""
    try:
        for chunk in chunks:
            await stream.send_all(chunk)
            await trio.sleep(pause)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([b"{"], id="stops-sending"),
        pytest.param([b" "] * 1000, id="trickles"),
    ],
)
def test_a_body_that_does_not_arrive_in_time_gets_408(chunks: list[bytes]) -> None:
    @trio_test
    async def check() -> None:
        # The per-read timeout of the server (30 s) never fires for a trickling client; the
        # app's own deadline on the whole body does.
        async with serving(body_timeout_seconds=1.0) as served:
            with trio.fail_after(PATIENCE):
                stream = await trio.open_tcp_stream("127.0.0.1", served.port)
                head = b"POST /tx HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                await stream.send_all(head + b"Content-Length: 1001\r\n\r\n")
                answer = b""
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(send_body_slowly, stream, chunks, 0.1)
                    while chunk := await stream.receive_some(65536):
                        answer += chunk
                    nursery.cancel_scope.cancel()
                await stream.aclose()
            head_bytes, _, body = answer.partition(b"\r\n\r\n")
            status = int(head_bytes.split(b" ")[1])
            assert json_error(status, body)[:2] == (408, "timeout")
            assert served.node.accepted == []
            assert (await served.client.get("/status")).status_code == 200

    check()


@trio_test
async def test_an_unexpected_failure_is_a_500_with_an_error_id_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="iomtshare.node.http")
    async with serving() as served:
        crash = await served.client.post("/tx", json={"tx": b"boom".hex()})
        status, code, _ = json_error(crash.status_code, crash.content)
        assert (status, code) == (500, "internal")
        error_id = crash.json()["error"]["error_id"]
        assert len(error_id) >= 8
        assert "fire" not in crash.text
        logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(logged) == 1
        assert error_id in logged[0].getMessage()
        assert logged[0].exc_info is not None
        assert served.internal_errors() == 1
        assert (await served.client.get("/status")).status_code == 200
