"""A small synchronous client of one node's HTTP JSON API (docs/http-api.md).

Every method returns the decoded JSON answer (hex strings stay hex: callers decode what they
use). A 4xx/5xx answer raises :class:`NodeError` carrying the server's error code; a node that
cannot be reached raises :class:`ConnectionFailed`. Long-polling calls (``wait``) stretch the
read timeout by the wait they ask for. A 503 with ``Retry-After`` (a node still catching up with
the chain, code ``syncing``, or shedding load, ``busy``) is sent again after the pause it names,
stretched by a random part of up to half of it (so that clients refused together do not all
come back together), until the pauses would add up to more than ``retry_budget`` seconds; then
it is raised like any other error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from client.errors import ConnectionFailed, NodeError

DEFAULT_TIMEOUT = 10.0
#: The API caps one long poll at 60 s; the client waits longer by polling again.
MAX_SERVER_WAIT = 60.0
#: How long a call keeps retrying a node that answers 503 with Retry-After.
DEFAULT_RETRY_BUDGET = 30.0
#: Bounds on one pause, whatever Retry-After asks (0 would make the client hammer the node).
MIN_RETRY_PAUSE = 0.25
MAX_RETRY_PAUSE = 10.0
#: Each pause is Retry-After times 1 + this times a uniform draw from [0, 1).
RETRY_SPREAD = 0.5


def node_url(address: str) -> str:
    """The base URL of a node from what a user typed: ``127.0.0.1:26657`` means plain HTTP.

    Raises :class:`ValueError` for an empty address or a scheme other than http/https.
    """
    text = address.strip().rstrip("/")
    if not text:
        raise ValueError("empty node address")
    if "://" not in text:
        # Nodes serve plain HTTP on loopback by default; a bare host:port is that.
        return f"http://{text}"
    scheme = text.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"node address {address!r}: only http:// or https:// URLs")
    return text


class NodeClient:
    """Talks to the node at ``base_url`` (e.g. ``http://127.0.0.1:26657``, or just
    ``127.0.0.1:26657``). Raises :class:`ValueError` for an address that is no HTTP URL.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        sleep: Callable[[float], None] = time.sleep,
        spread: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = node_url(base_url)
        self._timeout = timeout
        self._retry_budget = retry_budget
        self._sleep = sleep
        self._spread = spread
        # ``transport`` lets tests serve the API in process (httpx.MockTransport, WSGI, ...).
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | float] | None = None,
        body: Mapping[str, Any] | None = None,
        extra_wait: float = 0.0,
    ) -> Any:
        timeout = httpx.Timeout(self._timeout + extra_wait, connect=self._timeout)
        paused = 0.0
        while True:
            try:
                response = self._http.request(
                    method, path, params=params, json=body, timeout=timeout
                )
            except httpx.TimeoutException as exc:
                raise ConnectionFailed(f"{self.base_url}{path}: timed out") from exc
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"cannot reach {self.base_url}: {exc}") from exc
            asked = _retry_after(response)
            if asked is None:
                break
            pause = min(max(asked * (1 + RETRY_SPREAD * self._spread()), MIN_RETRY_PAUSE),
                        MAX_RETRY_PAUSE)
            if paused + pause > self._retry_budget:
                break
            self._sleep(pause)
            paused += pause
        if response.status_code >= 400:
            raise _error_of(response)
        if path == "/metrics":
            return response.text
        try:
            return response.json()
        except ValueError as exc:
            raise NodeError(response.status_code, "bad_response", "answer is not JSON") from exc

    def _get(self, path: str, **params: str | int | float | None) -> Any:
        given = {k: v for k, v in params.items() if v is not None}
        wait = float(given.get("wait", 0.0))
        return self._call("GET", path, params=given or None, extra_wait=wait)

    # -- chain and explorer --------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/status")
        return result

    def net_info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/net_info")
        return result

    def genesis(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/genesis")
        return result

    def block(self, height: int) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"/blocks/{int(height)}")
        return result

    def block_by_hash(self, block_hash: str) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"/blocks/by-hash/{_hex(block_hash)}")
        return result

    def blocks(
        self, start: int | None = None, end: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        result = self._get("/blocks", **{"from": start, "to": end, "limit": limit})
        blocks: list[dict[str, Any]] = _field(result, "blocks")
        return blocks

    def tx(self, tx_id: str, *, wait: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"/tx/{_hex(tx_id)}", wait=_cap(wait))
        return result

    def member(self, member_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"/members/{_hex(member_id)}")
        return result

    def attributes(self, member_id: str) -> list[dict[str, Any]]:
        answer = self._get(f"/members/{_hex(member_id)}/attributes")
        history: list[dict[str, Any]] = _field(answer, "history")
        return history

    def attribute_key(self, member_id: str) -> dict[str, Any]:
        """The latest attribute key published for a member (404 if none)."""
        result: dict[str, Any] = self._get(f"/members/{_hex(member_id)}/attribute-key")
        return result

    def domain_keys(self) -> dict[str, Any]:
        """Every epoch of the domain key (``epochs``) and the ``current`` one."""
        result: dict[str, Any] = self._get("/domain-keys")
        return result

    def accesses(self, record_id: str) -> dict[str, Any]:
        """How often each requester opened a record, against its access limit."""
        result: dict[str, Any] = self._get(f"/records/{_hex(record_id)}/accesses")
        return result

    def record(self, record_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"/records/{_hex(record_id)}")
        return result

    def records(
        self, *, owner: str | None = None, keywords: str | None = None
    ) -> list[dict[str, Any]]:
        answer = self._get("/records", owner=owner, keywords=keywords)
        records: list[dict[str, Any]] = _field(answer, "records")
        return records

    def grants(self, record_id: str) -> list[dict[str, Any]]:
        answer = self._get(f"/records/{_hex(record_id)}/grants")
        grants: list[dict[str, Any]] = _field(answer, "grants")
        return grants

    def audit(
        self,
        *,
        record: str | None = None,
        requester: str | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Audit entries by record, else by requester, else by heights (the node applies one
        of the three; :func:`client.queries.audit_entries` combines them)."""
        params = {
            "record": record, "requester": requester, "from": start, "to": end, "limit": limit
        }
        entries: list[dict[str, Any]] = _field(self._get("/audit", **params), "audit")
        return entries

    def request(self, request_id: str, *, wait: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"/requests/{_hex(request_id)}", wait=_cap(wait))
        return result

    def blacklist(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = _field(self._get("/blacklist"), "blacklist")
        return entries

    def verify(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/verify")
        return result

    def metrics(self) -> str:
        text: str = self._get("/metrics")
        return text

    # -- writes --------------------------------------------------------------------------------

    def submit_tx(self, encoded: bytes) -> str:
        """POST a signed transaction; returns its id (hex)."""
        tx_id: str = _field(self._call("POST", "/tx", body={"tx": encoded.hex()}), "tx_id")
        return tx_id

    def post_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        """POST a record's storage fragments (index order 1..n); returns how many were stored."""
        body = {"fragments": [f.hex() for f in fragments]}
        answer = self._call("POST", f"/records/{record_id.hex()}/fragments", body=body)
        stored: int = _field(answer, "stored")
        return stored

    def fetch_data(self, record_id: bytes, request: Mapping[str, Any]) -> bytes:
        """POST a signed data request; returns the bulk ciphertext the nodes rebuilt."""
        answer = self._call("POST", f"/records/{record_id.hex()}/data", body=request)
        try:
            return bytes.fromhex(answer["ciphertext"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeError(200, "bad_response", "answer lacks a hex ciphertext") from exc


def _field(answer: Any, name: str) -> Any:
    """``answer[name]``, or :class:`NodeError` ``bad_response`` if the answer lacks it."""
    if not isinstance(answer, dict) or name not in answer:
        raise NodeError(200, "bad_response", f"the answer lacks {name!r}")
    return answer[name]


def _error_of(response: httpx.Response) -> NodeError:
    code, message = "http_error", response.reason_phrase or "error"
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        if response.text:
            message = response.text[:200]
    return NodeError(response.status_code, code, message)


def _retry_after(response: httpx.Response) -> float | None:
    """The pause a 503 answer asks for in its ``Retry-After`` header (seconds form), if any."""
    if response.status_code != 503:
        return None
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    if not 0 <= seconds < float("inf"):
        return None
    return seconds


def _hex(value: str) -> str:
    """Path segments are hex ids; refuse anything else before it reaches a URL."""
    text = value.strip().lower()
    try:
        bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"not a hex id: {value[:80]!r}") from exc
    return text


def _cap(wait: float | None) -> float | None:
    return None if wait is None else max(0.0, min(float(wait), MAX_SERVER_WAIT))
