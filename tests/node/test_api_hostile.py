"""Hostile ids, heights, limits and timestamps against every route of a real node in-process.

One one-node network serves the full API (service routes and explorer) in process, on the
autojump clock; each case must answer 400 or 404 with the JSON error shape, and none may reach
the catch-all 500. (Hostile bytes at the HTTP server itself: tests/node/test_http_hostile.py.)
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.node.inprocess import PATIENCE, mock_clock_test, one_node
from tests.node.test_service import register_tx

U64 = 2**64
ID = "00" * 32
HUGE = "9" * 5000
INTERNAL_ERRORS = "iomtshare_http_internal_errors_total"


@asynccontextmanager
async def registered_node(directory: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A running one-node network in process; yields a client and a registered member's id."""
    async with one_node(directory) as node:
        network = node.network
        member_id, raw = register_tx(network.chain_id, network.authority_key())
        tx_id = (await node.client.post("/tx", json={"tx": raw.hex()})).json()["tx_id"]
        committed = await node.client.get(f"/tx/{tx_id}", params={"wait": PATIENCE})
        assert committed.status_code == 200
        yield node.client, member_id.hex()


def fetch_body(member: str, **fields: Any) -> dict[str, Any]:
    body = {
        "requester": member,
        "timestamp_ms": 1,
        "nonce": secrets.token_hex(16),
        "signature": "00" * 64,
    }
    body.update(fields)
    return body


# (method, path, JSON body or raw bytes or None, expected status)
def hostile_requests(member: str) -> list[tuple[str, str, Any, int]]:
    data = f"/records/{ID}/data"
    return [
        # Heights beyond u64 were a 500 (the ledger key encoder overflowed); 2**63 was a 404.
        ("GET", f"/blocks/{U64}", None, 400),
        ("GET", f"/blocks/{U64 - 1}", None, 404),
        ("GET", f"/blocks/{2**63}", None, 404),
        ("GET", f"/blocks/{HUGE}", None, 400),
        ("GET", "/blocks/-1", None, 400),
        ("GET", "/blocks/1e3", None, 400),
        ("GET", "/blocks/%20%201", None, 400),
        ("GET", f"/blocks?to={U64}", None, 400),
        ("GET", f"/blocks?from={U64}", None, 400),
        ("GET", f"/blocks?limit={U64}", None, 400),
        ("GET", "/blocks?from=x", None, 400),
        ("GET", f"/blocks?to={HUGE}", None, 400),
        ("GET", f"/audit?to={U64}", None, 400),
        ("GET", f"/audit?from={U64}", None, 400),
        ("GET", "/audit?limit=-1", None, 400),
        ("GET", "/audit?record=zz", None, 400),
        ("GET", f"/records?owner={ID}&limit={U64}", None, 400),
        ("GET", "/records?keywords=00", None, 400),
        ("GET", "/blocks/by-hash/zz", None, 400),
        ("GET", "/members/00", None, 400),
        ("GET", f"/members/{ID}0", None, 400),
        ("GET", "/members/zz/attributes", None, 400),
        ("GET", "/records/zz/grants", None, 400),
        ("GET", "/records/%ff", None, 400),
        ("GET", "/tx/zz", None, 400),
        ("GET", f"/tx/{ID}?wait=nan", None, 400),
        ("GET", f"/tx/{ID}?wait=1e999", None, 400),
        ("GET", f"/tx/{ID}?wait=-1", None, 400),
        ("GET", f"/requests/{ID}?wait={HUGE}", None, 400),
        ("GET", "/requests/00", None, 400),
        # timestamp_ms beyond u64 was a 500 (the signed payload encoder overflowed).
        ("POST", data, fetch_body(member, timestamp_ms=U64), 400),
        ("POST", data, fetch_body(member, timestamp_ms=-1), 400),
        ("POST", data, fetch_body(member, timestamp_ms=1.5), 400),
        ("POST", data, fetch_body(member, timestamp_ms=True), 400),
        ("POST", data, fetch_body(member, timestamp_ms="1"), 400),
        ("POST", data, fetch_body(member, requester=[member]), 400),
        ("POST", data, fetch_body(member, nonce=None), 400),
        ("POST", data, fetch_body(member, signature="00" * 63), 400),
        ("POST", data, b'{"timestamp_ms": ' + b"9" * 5000 + b"}", 400),
        ("POST", "/records/zz/data", fetch_body(member), 400),
        ("POST", f"/records/{ID}/fragments", {"fragments": "00"}, 400),
        ("POST", f"/records/{ID}/fragments", {"fragments": [5]}, 400),
        ("POST", f"/records/{ID}/fragments", b'{"fragments": ' + b"[" * 100_000 + b"}", 400),
        ("POST", "/tx", b'{"tx": ' + b"7" * 5000 + b"}", 400),
        ("POST", "/tx", b"[" * 100_000 + b"]" * 100_000, 400),
    ]


@mock_clock_test
async def test_no_route_answers_a_hostile_value_with_a_500(tmp_path: Path) -> None:
    async with registered_node(tmp_path / "net") as (client, member):
        wrong: list[str] = []
        for method, path, body, expected in hostile_requests(member):
            if isinstance(body, bytes):
                headers = {"content-type": "application/json"}
                response = await client.request(method, path, content=body, headers=headers)
            else:
                response = await client.request(method, path, json=body)
            error = response.json().get("error", {})
            if response.status_code != expected or not error.get("code"):
                answer = f"{response.status_code} {response.text[:120]}"
                wrong.append(f"{method} {path[:60]} -> {answer}")
        assert not wrong, "\n".join(wrong)
        metrics = (await client.get("/metrics")).text
        assert f"{INTERNAL_ERRORS} 0.0" in metrics
        assert 'status="500"' not in metrics
        assert (await client.get("/status")).status_code == 200


@mock_clock_test
async def test_ranges_at_the_edge_of_u64_still_answer(tmp_path: Path) -> None:
    async with registered_node(tmp_path / "net") as (client, _):
        head = (await client.get("/status")).json()["height"]
        blocks = await client.get("/blocks", params={"from": 1, "to": U64 - 1})
        assert [b["height"] for b in blocks.json()["blocks"]] == list(range(1, head + 1))
        assert (await client.get("/blocks", params={"from": U64 - 1})).json() == {"blocks": []}
        audit = await client.get("/audit", params={"from": 1, "to": U64 - 1})
        assert audit.json() == {"audit": []}
        limited = await client.get("/blocks", params={"limit": U64 - 1})
        assert limited.status_code == 200
