"""NodeClient: error mapping, timeouts, long-poll parameters, unsafe path segments."""

from __future__ import annotations

import httpx
import pytest

from client import ConnectionFailed, NodeClient, NodeError
from client.http import node_url


def client_with(handler: httpx.MockTransport) -> NodeClient:
    return NodeClient("http://node", transport=handler)


def test_structured_error_keeps_status_code_and_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "replayed", "message": "nonce already used"}}
        return httpx.Response(409, json=body)

    with client_with(httpx.MockTransport(handler)) as client, pytest.raises(NodeError) as info:
        client.submit_tx(b"\x01")
    assert (info.value.status, info.value.code) == (409, "replayed")
    assert "nonce already used" in str(info.value)


def test_unstructured_error_still_becomes_a_node_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    with client_with(httpx.MockTransport(handler)) as client, pytest.raises(NodeError) as info:
        client.status()
    assert (info.value.status, info.value.code) == (502, "http_error")
    assert "bad gateway" in info.value.message


def test_transport_failures_are_connection_failed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with client_with(httpx.MockTransport(refuse)) as client, pytest.raises(ConnectionFailed):
        client.status()
    stalled = client_with(httpx.MockTransport(stall))
    with stalled, pytest.raises(ConnectionFailed, match="timed out"):
        stalled.status()


def test_long_poll_is_capped_and_sent_as_a_query_parameter() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"request_id": "ab", "status": "pending", "blocks": []})

    with client_with(httpx.MockTransport(handler)) as client:
        client.request("AB", wait=500)
        assert client.blocks(start=3, limit=2) == []
    assert seen[0].path == "/requests/ab"
    assert float(seen[0].params["wait"]) == 60.0
    assert dict(seen[1].params) == {"from": "3", "limit": "2"}


def test_an_answer_missing_its_field_is_a_bad_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"unexpected": 1})

    with client_with(httpx.MockTransport(handler)) as client:
        for call in (client.blocks, client.blacklist, lambda: client.submit_tx(b"\x01")):
            with pytest.raises(NodeError, match="lacks"):
                call()


def test_non_hex_ids_never_reach_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    client = client_with(httpx.MockTransport(handler))
    with client, pytest.raises(ValueError, match="not a hex id"):
        client.record("../status")


def test_metrics_are_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="iomtshare_height 3\n")

    with client_with(httpx.MockTransport(handler)) as client:
        assert client.metrics() == "iomtshare_height 3\n"


def test_a_node_address_without_scheme_is_plain_http() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"height": 1})

    with NodeClient("127.0.0.1:26657/", transport=httpx.MockTransport(handler)) as client:
        assert client.base_url == "http://127.0.0.1:26657"
        client.status()
    assert seen == ["http://127.0.0.1:26657/status"]
    assert node_url("https://node.example:443") == "https://node.example:443"
    for bad in ("", "ftp://node:21"):
        with pytest.raises(ValueError, match="node address"):
            node_url(bad)
