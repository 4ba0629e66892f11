"""A real one-node network in process, with a small history, for the HTTP and p2p fuzzers.

The node is :func:`tests.node.inprocess.one_node` (its real LevelDB ledger, consensus loop,
storage and the Starlette app through ``httpx.ASGITransport``) running on a trio loop in a
background thread, so that Hypothesis, which calls tests synchronously, drives it from the test
thread: HTTP requests with :meth:`FuzzNode.request`, a peer's consensus link with
:meth:`FuzzNode.take_batch`. Before the fuzzer starts, the node commits what clients
do: an owner and a requester registered, their TPRE keys published, a record with its
fragments stored, a grant, and a granted access request; the fuzzer then has real ids, heights
and bodies to start from and every route has something to find.

The loop runs on trio's ``MockClock``: frozen between requests, and jumping ahead whenever
every task waits during one, so ``?wait=60`` costs no real time (as in test_api_hostile.py).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
import trio.testing

from consensus.messages import CommittedBlock
from crypto.groups import load_group
from crypto.signing import SigningKey
from ledger.access_token import AccessToken
from ledger.transactions import MemberRole
from node.home import load_identity
from node.p2p.errors import ProtocolViolation
from tests.node.app_world import AppWorld, Member
from tests.node.inprocess import PATIENCE, OneNode, one_node

INTERNAL_ERRORS = "iomtshare_http_internal_errors_total"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Known:
    """Values of the node's history, for the fuzzer to start from."""

    chain_id: str
    member_ids: tuple[str, ...]
    record_id: str
    tx_ids: tuple[str, ...]
    request_id: str
    block_hashes: tuple[str, ...]
    height: int
    transactions: tuple[bytes, ...]
    fragments: tuple[str, ...]
    #: The node's committed blocks with their commit QCs, as a sync reply carries them.
    committed: tuple[CommittedBlock, ...]
    #: The node's own key, so that the p2p fuzzer can send it messages it signed itself.
    node_key: SigningKey
    #: A fetch of the record's data under an access token the granted requester signed for its
    #: granted request, for ``(nonce, skew_ms)``.
    sign_fetch: Callable[[bytes, int], dict[str, Any]]


@dataclass(frozen=True)
class State:
    """What no refused input may change: the chain's head, the node's pool and whether it
    believes it lags behind its peers."""

    height: int
    head_hash: bytes
    state_root: bytes
    audit_length: int
    pending: int
    syncing: bool


@dataclass
class _Loop:
    started: threading.Event = field(default_factory=threading.Event)
    token: trio.lowlevel.TrioToken | None = None
    node: OneNode | None = None
    clock: trio.testing.MockClock | None = None
    stop: trio.Event | None = None
    known: Known | None = None
    error: BaseException | None = None


class FuzzNode:
    """The running node, seen from the test thread."""

    def __init__(self, loop: _Loop) -> None:
        assert loop.token is not None
        assert loop.known is not None
        self._loop = loop
        self._token = loop.token
        self.known = loop.known

    def request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> Answer:
        """Send one request to the node's app and wait for the whole answer."""
        result: Answer = trio.from_thread.run(
            self._send, method, path, params, headers, content, trio_token=self._token
        )
        return result

    async def _send(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None,
        headers: dict[str, str] | None,
        content: bytes | None,
    ) -> Answer:
        node, clock = self._loop.node, self._loop.clock
        assert node is not None
        assert clock is not None
        clock.autojump_threshold = 0
        try:
            response = await node.client.request(
                method, path, params=tuple(params or ()), headers=headers,
                content=content,
            )
        finally:
            clock.autojump_threshold = math.inf
        return Answer(response.status_code, dict(response.headers), response.content)

    def state(self) -> State:
        result: State = trio.from_thread.run_sync(self._state, trio_token=self._token)
        return result

    def _state(self) -> State:
        node = self._loop.node
        assert node is not None
        head = node.parts.view.ledger.head()
        status = node.parts.view.status()
        return State(
            head.height,
            head.block_hash,
            head.state_root,
            head.audit_length,
            status.pending,
            status.syncing,
        )

    def settle(self, seconds: float) -> None:
        """Let ``seconds`` of the node's (virtual) time pass: its timers fire, rounds end."""
        trio.from_thread.run(self._settle, seconds, trio_token=self._token)

    async def _settle(self, seconds: float) -> None:
        clock = self._loop.clock
        assert clock is not None
        clock.autojump_threshold = 0
        try:
            await trio.sleep(seconds)
        finally:
            clock.autojump_threshold = math.inf

    def take_batch(self, payload: bytes) -> bool:
        """Hand ``payload`` to the consensus loop as a frame batch from a peer's link and let
        the node handle every message in it; True if the loop refused the batch as malformed
        (the node then ends that link)."""
        refused: bool = trio.from_thread.run(self._take_batch, payload, trio_token=self._token)
        return refused

    async def _take_batch(self, payload: bytes) -> bool:
        node = self._loop.node
        assert node is not None
        try:
            await node.parts.consensus.take_batch(payload, None, "fuzz")
        except ProtocolViolation:
            return True
        finally:
            # The clock is frozen: this waits for the node to handle the messages, not for
            # any of its timers.
            await trio.testing.wait_all_tasks_blocked()
        return False

    def internal_errors(self) -> float:
        """The node's count of requests that ended in the catch-all 500."""
        metrics = self.request("GET", "/metrics").body.decode()
        for line in metrics.splitlines():
            if line.startswith(INTERNAL_ERRORS + " "):
                return float(line.split()[1])
        raise AssertionError(f"{INTERNAL_ERRORS} is missing from /metrics")


@contextmanager
def fuzz_node(directory: Path) -> Iterator[FuzzNode]:
    """Run the node in a background thread until the block exits."""
    loop = _Loop()
    thread = threading.Thread(target=_thread, args=(directory, loop), daemon=True)
    thread.start()
    try:
        if not loop.started.wait(PATIENCE * 5):
            raise TimeoutError("the fuzz node did not start")
        if loop.error is not None:
            raise RuntimeError("the fuzz node failed to start") from loop.error
        yield FuzzNode(loop)
    finally:
        if loop.token is not None and loop.stop is not None and thread.is_alive():
            with suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(loop.stop.set, trio_token=loop.token)
        thread.join(PATIENCE)
    if loop.error is not None:
        raise RuntimeError("the fuzz node failed while the test ran") from loop.error


def _thread(directory: Path, loop: _Loop) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)
    loop.clock = clock
    try:
        trio.run(_serve, directory, loop, clock=clock)
    except BaseException as exc:
        loop.error = exc
    finally:
        loop.started.set()


async def _serve(directory: Path, loop: _Loop) -> None:
    loop.token = trio.lowlevel.current_trio_token()
    loop.stop = trio.Event()
    async with one_node(directory) as node:
        loop.node = node
        loop.known = await _history(node)
        assert loop.clock is not None
        loop.clock.autojump_threshold = math.inf
        loop.started.set()
        await loop.stop.wait()


async def _commit(client: httpx.AsyncClient, txs: list[bytes]) -> list[str]:
    ids = []
    for raw in txs:
        answer = await client.post("/tx", json={"tx": raw.hex()})
        if answer.status_code != 202:
            raise AssertionError(f"setup transaction refused: {answer.text}")
        ids.append(answer.json()["tx_id"])
    for tx_id in ids:
        committed = await client.get(f"/tx/{tx_id}", params={"wait": PATIENCE})
        if committed.status_code != 200:
            raise AssertionError(f"setup transaction not committed: {committed.text}")
    return ids


async def _history(node: OneNode) -> Known:
    """Commit an owner's record granted to a requester, and a granted access request."""
    client = node.client
    identity = load_identity(node.network.directory / "node1")
    # The world's helpers read grant versions from a live node's ledger: this node's.
    world = AppWorld(
        load_group(), identity.genesis, node.network.authority_key(), [], [identity.box_key],
        apps={1: node.parts.app}, now=time.time(),
    )
    owner, register_owner = world.member(MemberRole.OWNER)
    requester, register_requester = world.member(MemberRole.REQUESTER)
    txs = [register_owner, register_requester]
    ids = await _commit(client, txs)
    txs += [world.publish_key(owner), world.publish_key(requester)]
    ids += await _commit(client, txs[2:])
    world.published.update({owner.member_id, requester.member_id})
    record_id, put = world.put_record(owner)
    ids += await _commit(client, [put])
    fragments = [f.to_bytes().hex() for f in world.stored[record_id].fragments]
    stored = await client.post(
        f"/records/{record_id.hex()}/fragments", json={"fragments": fragments}
    )
    if stored.status_code != 202:
        raise AssertionError(f"setup fragments refused: {stored.text}")
    grant = world.grant(owner, record_id, requester)
    ids += await _commit(client, [grant])
    request = world.request(requester, record_id)
    submitted = await client.post("/tx", json={"tx": request.hex()})
    request_id = submitted.json()["tx_id"]
    decided = await client.get(f"/requests/{request_id}", params={"wait": PATIENCE})
    if decided.json().get("status") != "granted":
        raise AssertionError(f"setup request not granted: {decided.text}")
    now_ms = int(time.time() * 1000)
    head = (await client.get("/status")).json()["height"]
    hashes = [
        (await client.get(f"/blocks/{height}")).json()["hash"] for height in range(1, head + 1)
    ]
    return Known(
        chain_id=identity.genesis.chain_id,
        member_ids=(owner.member_id.hex(), requester.member_id.hex()),
        record_id=record_id.hex(),
        tx_ids=(*ids, request_id),
        request_id=request_id,
        block_hashes=tuple(hashes),
        height=head,
        transactions=(*txs, put, grant, request),
        fragments=tuple(fragments),
        committed=_committed_blocks(node),
        node_key=identity.node_key,
        sign_fetch=functools.partial(
            _signed_fetch, world, requester, record_id, bytes.fromhex(request_id), now_ms
        ),
    )


def _committed_blocks(node: OneNode) -> tuple[CommittedBlock, ...]:
    ledger = node.parts.view.ledger
    out = []
    for height in range(1, ledger.height + 1):
        stored = ledger.block(height)
        assert stored is not None
        qc = stored.commit_qc
        out.append(
            CommittedBlock(
                height,
                qc.round,
                stored.block.hash(),
                stored.block.to_bytes(),
                tuple(s.node_index for s in qc.signatures),
                tuple(s.signature for s in qc.signatures),
            )
        )
    return tuple(out)


def _signed_fetch(
    world: AppWorld,
    requester: Member,
    record_id: bytes,
    decision_id: bytes,
    now_ms: int,
    nonce: bytes,
    skew_ms: int,
) -> dict[str, Any]:
    token = AccessToken(
        record_id=record_id,
        requester=requester.member_id,
        decision_id=decision_id,
        expires_at_ms=now_ms + 3_600_000,
        abe_binding=None,
        timestamp_ms=now_ms + skew_ms,
        nonce=nonce,
    )
    return token.signed(requester.key, world.genesis.chain_id).to_json()


__all__ = ["Answer", "FuzzNode", "Known", "State", "fuzz_node"]
