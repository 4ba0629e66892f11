"""Every HTTP route of a real node, fed generated and mutated paths, queries, headers and bodies.

The node (tests/fuzz/fuzz_node.py) is a real one-node network with a small history. For every
route, Hypothesis builds requests from the node's real ids, heights and bodies and from hostile
values (wrong sizes, non-hex, huge and signed numbers, other scripts' digits, NaN, nesting,
other methods and content types), and mutates valid JSON bodies byte by byte. Every answer must
be below 500, and an error answer must carry the JSON error shape. After each route the
catch-all 500 counter must still be 0 and the chain's head, state root, audit chain, pending
pool and syncing belief unchanged (no input the fuzzer makes is a new valid transaction), and
resident memory may have grown only a little.
"""

from __future__ import annotations

import itertools
import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import HTTP_SHARE, Tally, fuzz_settings, plan, share, start
from tests.fuzz.fuzz_node import Answer, FuzzNode, Known
from tests.fuzz.mutations import mutate, mutated

#: Fewest requests sent per Hypothesis example of a route with a body: the drawn one, then
#: byte-level mutants of its body.
BODY_MUTANTS = 4

EDGE_TEXTS = (
    "", "0", "-0", "-1", "+1", " 1", "1 ", "01", "1e3", "0x10", "1_000", "١٢", "１", "²",
    str(2**63), str(2**64 - 1), str(2**64), "9" * 25, "9" * 5000,
    "nan", "NaN", "inf", "-inf", "1e999", "1e-320", "0.5", "null", "true", "[]", "{}",
    "%00", "%zz", "..", "../..", "/", "\x00", "é", "💥", " ", "a" * 300,
)
VISIBLE = string.ascii_letters + string.digits + string.punctuation + " "
STATIC_NAMES = ("explorer.js", "explorer.css", "pages.js", "favicon.svg", "explorer.html")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW")
CONTENT_TYPES = (
    "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
    "application/json; charset=utf-16", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/octet-stream", "", "json", ";;;",
)
HEADER_NAMES = (
    "accept", "accept-encoding", "content-encoding", "expect", "range", "cookie",
    "authorization", "x-forwarded-for", "origin", "if-none-match", "transfer-encoding",
)

#: Nonces of the fetches the fuzzer signs, each used once.
FETCH_NONCES = itertools.count(1)

hostile_text = st.one_of(st.sampled_from(EDGE_TEXTS), st.text(max_size=40))
header_names = st.sampled_from(HEADER_NAMES) | st.text(string.ascii_lowercase, min_size=1)
header_values = st.text(VISIBLE, max_size=40)


def hex_values(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Ids: real ones, random ones of every size, damaged real ones, and text that is not hex."""
    real = st.sampled_from(known)
    return st.one_of(
        real,
        real,
        real.map(str.upper),
        real.map(lambda value: value[:-1]),
        real.map(lambda value: value + "0"),
        st.binary(min_size=32, max_size=32).map(bytes.hex),
        st.binary(max_size=70).map(bytes.hex),
        hostile_text,
    )


def numbers(high: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(0, high + 2).map(str),
        st.integers(-(2**70), 2**70).map(str),
        hostile_text,
    )


def seconds() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(("0", "0.001", "1", "59.9", "60", "60.000001", "61", "-1", "1e999")),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        hostile_text,
    )


def values(known: Known) -> dict[str, st.SearchStrategy[str]]:
    """Strategies for each path placeholder and query parameter, by name."""
    ids = (*known.member_ids, known.record_id, *known.tx_ids, *known.block_hashes)
    heights = numbers(known.height)
    return {
        "tx_id": hex_values(known.tx_ids),
        "request_id": hex_values((known.request_id, *known.tx_ids)),
        "height": heights,
        "hash": hex_values(known.block_hashes),
        "member_id": hex_values(known.member_ids),
        "record_id": hex_values((known.record_id,)),
        "device_id": hex_values(ids),
        "name": st.one_of(st.sampled_from(STATIC_NAMES), hostile_text),
        "owner": hex_values(known.member_ids),
        "requester": hex_values(known.member_ids),
        "after": hex_values(known.member_ids),
        "keywords": hex_values((known.record_id, "00" * 32)),
        "record": hex_values((known.record_id,)),
        "from": heights,
        "epoch": heights,
        "to": heights,
        "limit": numbers(1000),
        "order": st.one_of(st.sampled_from(("asc", "desc", "ASC", "")), hostile_text),
        "wait": seconds(),
        "any": hex_values(ids),
    }


@dataclass(frozen=True)
class Route:
    """A route of docs/http-api.md: its method, path template, query names and body kind."""

    method: str
    template: str
    query: tuple[str, ...] = ()
    body: str | None = None
    weight: float = 1.0

    @property
    def name(self) -> str:
        return f"http {self.method} {self.template}"

    def placeholders(self) -> list[str]:
        return [part[1:-1] for part in self.template.split("/") if part.startswith("{")]


ROUTES = (
    Route("GET", "/"),
    Route("GET", "/health"),
    Route("GET", "/log_level", weight=0.5),
    Route("PUT", "/log_level", body="level"),
    Route("GET", "/explorer", weight=0.5),
    Route("GET", "/explorer/static/{name}"),
    Route("GET", "/status"),
    Route("GET", "/metrics", weight=0.5),
    Route("GET", "/net_info"),
    Route("GET", "/genesis"),
    Route("GET", "/blacklist"),
    Route("GET", "/verify", weight=0.3),
    Route("GET", "/tx/{tx_id}", ("wait",), weight=1.5),
    Route("GET", "/tx/{tx_id}/fate"),
    Route("GET", "/requests/{request_id}", ("wait",), weight=1.5),
    Route("GET", "/blocks/{height}", weight=1.5),
    Route("GET", "/blocks/by-hash/{hash}"),
    Route("GET", "/blocks", ("from", "to", "limit", "order"), weight=1.5),
    Route("GET", "/members", ("after", "limit")),
    Route("GET", "/members/{member_id}"),
    Route("GET", "/members/{member_id}/attributes"),
    Route("GET", "/members/{member_id}/attribute-key"),
    Route("GET", "/domain-keys"),
    Route("GET", "/domain-keys/{epoch}"),
    Route("GET", "/devices", ("owner", "after", "limit")),
    Route("GET", "/devices/{device_id}"),
    Route("GET", "/records/{record_id}"),
    Route("GET", "/records/{record_id}/grants"),
    Route("GET", "/records/{record_id}/accesses"),
    Route("GET", "/records/{record_id}/fragments"),
    Route("GET", "/records", ("owner", "keywords", "limit"), weight=1.5),
    Route("GET", "/audit", ("record", "requester", "from", "to", "limit"), weight=1.5),
    Route("POST", "/tx", body="tx", weight=3),
    Route("POST", "/records/{record_id}/fragments", body="fragments", weight=2),
    Route("POST", "/records/{record_id}/data", body="fetch", weight=2.5),
    # Paths no route serves, and every method on them.
    Route("GET", "/{any}/{any}", ("any",), weight=1),
)
#: Not a route of the app: the fuzzer's own target for unknown paths.
UNROUTED = "/{any}/{any}"

def inputs_for(route: Route) -> int:
    total = sum(r.weight for r in ROUTES)
    return share(HTTP_SHARE * route.weight / total)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None


def json_values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )


def any_json() -> st.SearchStrategy[Any]:
    return json_values(
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False)
        | hostile_text
    )


def hex_of(real: tuple[str, ...], size: int | None = None) -> st.SearchStrategy[Any]:
    """A JSON value where a hex field goes: a real one, a real one with a few bytes changed,
    the wrong size, or not hex at all."""
    sized = st.binary(min_size=size, max_size=size) if size else st.binary(max_size=64)
    encodings = st.sampled_from([bytes.fromhex(value) for value in real])
    return st.one_of(
        st.sampled_from(real),
        mutated(encodings).map(bytes.hex),
        mutated(encodings).map(bytes.hex),
        sized.map(bytes.hex),
        any_json(),
    )


@st.composite
def fetch_documents(draw: st.DrawFn, known: Known) -> dict[str, Any]:
    """A fetch freshly signed by the granted requester (a new nonce, a time up to ten minutes
    off), with up to two of its fields then replaced by hostile values."""
    # Hypothesis draws the same few nonces again and again, and a used nonce is a replay.
    nonce = next(FETCH_NONCES).to_bytes(16, "big")
    document = known.sign_fetch(nonce, draw(st.integers(-600_000, 600_000)))
    hostile = {
        "requester": hex_of((document["requester"], *known.member_ids), 32),
        "decision_id": hex_of((document["decision_id"], *known.tx_ids), 32),
        "expires_at_ms": st.one_of(st.integers(-(2**70), 2**70), any_json()),
        "abe_binding": st.one_of(st.binary(min_size=32, max_size=32).map(bytes.hex), any_json()),
        "timestamp_ms": st.one_of(st.integers(-(2**70), 2**70), any_json()),
        "nonce": hex_of((document["nonce"],), 16),
        "signature": hex_of((document["signature"],), 64),
    }
    for name in draw(st.lists(st.sampled_from(sorted(hostile)), max_size=2, unique=True)):
        document[name] = draw(hostile[name])
    return document


def bodies(kind: str, known: Known) -> st.SearchStrategy[Any]:
    """JSON documents for the body of a POST route: real ones, real ones with a field changed
    or mutated, and arbitrary JSON."""
    if kind == "tx":
        txs = tuple(tx.hex() for tx in known.transactions)
        document = st.fixed_dictionaries({"tx": hex_of(txs)})
    elif kind == "level":
        levels = ("debug", "info", "warning", "error", "critical", "INFO", "notset", "trace")
        level = st.one_of(st.sampled_from(levels), hostile_text, any_json())
        document = st.fixed_dictionaries({"level": level})
    elif kind == "fragments":
        fragment = hex_of(known.fragments)
        document = st.fixed_dictionaries(
            {"fragments": st.one_of(st.lists(fragment, max_size=3), any_json())}
        )
    else:
        document = fetch_documents(known)
    extra = st.dictionaries(st.text(max_size=8), any_json(), max_size=2)
    return st.one_of(
        document,
        document,
        st.tuples(document, extra).map(lambda pair: {**pair[1], **pair[0]}),
        any_json(),
    )


def segment(value: str, raw: bool) -> str:
    """A path segment: percent-encoded, or with slashes, dots and escapes left as they are."""
    return quote(value, safe="/%:@!$&'()*+,;=" if raw else "")


def requests(route: Route, known: Known) -> st.SearchStrategy[Request]:
    """Requests for ``route`` (every strategy is built once: building one costs far more than
    drawing from it)."""
    document = bodies(route.body, known) if route.body is not None else st.none()
    return _requests(route, values(known), document)


@st.composite
def _requests(
    draw: st.DrawFn,
    route: Route,
    by_name: dict[str, st.SearchStrategy[str]],
    documents: st.SearchStrategy[Any],
) -> Request:
    path = route.template
    for name in route.placeholders():
        value = draw(by_name[name])
        path = path.replace("{" + name + "}", segment(value, draw(st.booleans())), 1)
    if route.template == UNROUTED:
        path = draw(st.one_of(st.just(path), hostile_text.map(lambda t: "/" + segment(t, True))))
    params = []
    for _ in range(draw(st.integers(0, len(route.query) + 1))):
        known_name = draw(st.integers(0, 3)) > 0
        if route.query and known_name:
            name = draw(st.sampled_from(route.query))
        else:
            name = draw(st.text(max_size=8))
        params.append((name, draw(by_name.get(name, hostile_text))))
    method = route.method if draw(st.integers(0, 9)) else draw(st.sampled_from(METHODS))
    headers = {}
    body = None
    if route.body is not None:
        body = json.dumps(draw(documents)).encode()
        if draw(st.integers(0, 4)) == 0:
            body = draw(st.sampled_from([b"", b"[" * 40 + b"]" * 40, b"\xff\xfe{}", b"{"]))
        headers["content-type"] = (
            "application/json" if draw(st.integers(0, 5)) else draw(st.sampled_from(CONTENT_TYPES))
        )
    for _ in range(draw(st.integers(0, 2))):
        name = draw(header_names)
        headers[name] = draw(header_values).strip()
    return Request(method, path, params, headers, body)


def body_mutants(request: Request, rng_seed: int, count: int) -> Iterator[Request]:
    """The request, then ``count - 1`` requests whose body is its body with a few bytes
    changed."""
    yield request
    if request.body is None:
        return
    rng = random.Random(rng_seed)
    for _ in range(count - 1):
        body = mutate(rng, request.body, request.body[::-1])
        yield Request(request.method, request.path, request.params, request.headers, body)


def send(node: FuzzNode, request: Request) -> Answer:
    return node.request(
        request.method,
        request.path,
        params=request.params,
        headers=request.headers,
        content=request.body,
    )


def check_answer(request: Request, answer: Answer, tally: Tally) -> None:
    described = f"{request.method} {request.path[:120]} {request.params!r:.200} " + (
        f"body {request.body[:200]!r}" if request.body is not None else ""
    )
    assert answer.status < 500, f"{answer.status} for {described}: {answer.body[:300]!r}"
    tally.tried(refused=answer.status >= 400)
    if answer.status >= 400 and request.method != "HEAD":
        error = json.loads(answer.body).get("error")
        assert isinstance(error, dict), f"{answer.status} without a JSON error for {described}"
        assert error.get("code"), f"{answer.status} without an error code for {described}"


def test_every_route_of_the_app_is_fuzzed(http_node: FuzzNode) -> None:
    listed = json.loads(http_node.request("GET", "/").body)["endpoints"]
    served = {(endpoint["method"], endpoint["path"]) for endpoint in listed}
    fuzzed = {(route.method, route.template) for route in ROUTES if route.template != UNROUTED}
    assert served == fuzzed


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_route_answers_every_input_below_500_and_changes_nothing(
    http_node: FuzzNode, route: Route
) -> None:
    node = http_node
    before = node.state()
    level = json.loads(node.request("GET", "/log_level").body)["level"]
    strategy = requests(route, node.known)
    tally = start(route.name)
    inputs = inputs_for(route)
    # A route without a body gets one request per example.
    examples, batch = plan(inputs, BODY_MUTANTS) if route.body else (inputs, 1)

    @fuzz_settings(route.name, examples)
    @given(strategy, st.integers(0, 2**64 - 1))
    def run(request: Request, rng_seed: int) -> None:
        for attempt in body_mutants(request, rng_seed, batch):
            check_answer(attempt, send(node, attempt), tally)
            if attempt.method == "PUT":
                # A valid level is the route doing its job; later routes want the usual one.
                node.request("PUT", "/log_level", headers=JSON, content=_level(level))

    run()
    tally.finish()
    assert node.internal_errors() == 0
    assert node.state() == before, "a refused input changed the chain or the pool"
    assert json.loads(node.request("GET", "/log_level").body)["level"] == level
    assert tally.inputs >= inputs * 0.9, f"only {tally.inputs} of {inputs} inputs tried"


JSON = {"content-type": "application/json"}


def _level(name: str) -> bytes:
    return json.dumps({"level": name}).encode()
