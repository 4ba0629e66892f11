"""What an edge submission may cost a consensus node: the per-edge rate limit, the length
fields read before decoding, and which records' fragments an edge may hand over."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
import trio

from crypto.signing import SigningKey
from ledger import schema
from ledger.devices import DeviceEntry
from ledger.transactions import PutRecord, decode_transaction
from node.admission import MAX_TX_BYTES
from node.edge import submit
from node.edge.submit import (
    SUBMIT_BURST,
    EdgeSubmit,
    EdgeSubmitReply,
    SubmitKind,
    submit_gate,
    submit_server,
)
from node.http.errors import InvalidInput
from node.p2p import P2PError

EDGE = "12D3KooWEdgeOne"
OTHER_EDGE = "12D3KooWEdgeTwo"
DEVICE = bytes(range(32))
RECORD = bytes([7]) * 32
SIZE = 4


class _Peer:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


def _put(device_id: bytes = DEVICE, record_id: bytes = RECORD) -> PutRecord:
    return PutRecord(
        record_id=record_id, owner=bytes(32), keywords_hash=bytes(32), policy="role:doctor",
        access_limit=1, metadata_ciphertext=b"m", storage_commitments=b"", abe_ciphertext=b"a",
        domain_epoch=0, domain_ciphertext=b"d", created_at_ms=1, device_id=device_id,
    ).signed(SigningKey.generate(), "edge-submit-test")


class FakeLedger:
    """Committed records (by id, with their PutRecord) and registered devices (by id, edge)."""

    def __init__(self) -> None:
        self.puts: dict[bytes, PutRecord] = {}
        self.device_edges: dict[bytes, str] = {}

    def record(self, record_id: bytes) -> Any:
        put = self.puts.get(record_id)
        return None if put is None else SimpleNamespace(tx_id=put.tx_id())

    def transaction(self, tx_id: bytes) -> Any:
        found = [p for p in self.puts.values() if p.tx_id() == tx_id]
        return SimpleNamespace(transaction=found[0]) if found else None

    @property
    def store(self) -> Any:
        entries = {
            schema.device(device): DeviceEntry(
                device, b"k", bytes(32), edge, 0, 1, 1, bytes(32)
            ).to_bytes()
            for device, edge in self.device_edges.items()
        }
        return SimpleNamespace(get=entries.get)


class FakeTarget:
    def __init__(self) -> None:
        self.ledger = FakeLedger()
        self.txs: list[bytes] = []
        self.fragments: list[tuple[bytes, Sequence[bytes]]] = []

    async def submit_transaction(self, raw: bytes) -> str:
        self.txs.append(raw)
        return decode_transaction(raw).tx_id().hex()

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        self.fragments.append((record_id, fragments))
        if len(fragments) != SIZE:  # as the keeper checks the record's commitment
            raise InvalidInput(f"expected {SIZE} fragments", "bad_fragment")
        return len(fragments)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _server(target: FakeTarget, clock: Clock | None = None, gate: Any = None) -> Any:
    genesis = SimpleNamespace(
        edges=[SimpleNamespace(peer_id=EDGE), SimpleNamespace(peer_id=OTHER_EDGE)], size=SIZE
    )
    return submit_server(genesis, target, gate, clock or Clock())  # type: ignore[arg-type]


def _ask(serve: Any, peer: str, request: EdgeSubmit | bytes) -> EdgeSubmitReply:
    payload = request if isinstance(request, bytes) else request.to_bytes()
    return EdgeSubmitReply.from_bytes(trio.run(serve, _Peer(peer), payload))


def _fragments(count: int = SIZE) -> EdgeSubmit:
    return EdgeSubmit(SubmitKind.FRAGMENTS, RECORD, b"", tuple(b"f%d" % i for i in range(count)))


def _committed(target: FakeTarget, edge: str = EDGE, device_id: bytes = DEVICE) -> None:
    target.ledger.puts[RECORD] = _put(device_id)
    if device_id:
        target.ledger.device_edges[device_id] = edge


def test_each_edge_gets_a_burst_then_typed_counted_rate_limited_refusals() -> None:
    target, clock = FakeTarget(), Clock()
    gate = submit_gate()
    serve = _server(target, clock, gate)
    junk = b"not a submission"
    codes = [_ask(serve, EDGE, junk).code for _ in range(SUBMIT_BURST + 2)]
    assert codes == ["malformed"] * SUBMIT_BURST + ["rate_limited"] * 2
    assert gate.refused == {EDGE: 2}
    assert _ask(serve, OTHER_EDGE, junk).code == "malformed"  # each edge has its own allowance
    clock.now += 1.0
    assert _ask(serve, EDGE, junk).code == "malformed"  # refilled with time


def test_a_million_declared_fragments_are_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = FakeTarget()
    _committed(target)
    decoded: list[bytes] = []
    real = EdgeSubmit.from_bytes

    def spy(data: bytes) -> EdgeSubmit:
        decoded.append(data)
        return real(data)

    monkeypatch.setattr(EdgeSubmit, "from_bytes", spy)
    serve = _server(target)
    flood = EdgeSubmit(SubmitKind.FRAGMENTS, RECORD, b"", (b"",) * 1_000_000).to_bytes()
    reply = _ask(serve, EDGE, flood)
    assert (reply.code, decoded, target.fragments) == ("bad_fragment", [], [])
    assert _ask(serve, EDGE, _fragments()).code == "ok"  # n fragments are decoded as before
    assert len(decoded) == 1


def test_an_oversized_transaction_is_refused_before_it_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = FakeTarget()
    decoded: list[bytes] = []
    monkeypatch.setattr(submit, "decode_transaction", lambda raw: decoded.append(raw))
    serve = _server(target)
    big = EdgeSubmit(SubmitKind.TRANSACTION, bytes(32), bytes(MAX_TX_BYTES + 1), ())
    reply = _ask(serve, EDGE, big)
    assert (reply.code, decoded, target.txs) == ("too_large", [], [])


def test_fragments_only_of_the_edges_own_device_records() -> None:
    target = FakeTarget()
    serve = _server(target)
    _committed(target, edge=OTHER_EDGE)
    assert _ask(serve, EDGE, _fragments()).code == "not_your_device"
    target.ledger.device_edges.clear()  # a device not registered (any more)
    assert _ask(serve, EDGE, _fragments()).code == "not_your_device"
    _committed(target, device_id=b"")  # an owner's record
    assert _ask(serve, EDGE, _fragments()).code == "not_device_record"
    assert target.fragments == []
    _committed(target)
    assert _ask(serve, EDGE, _fragments()).stored == SIZE


def test_a_record_handed_out_once_is_answered_again_without_sending() -> None:
    target = FakeTarget()
    _committed(target)
    serve = _server(target)
    first, again = _ask(serve, EDGE, _fragments()), _ask(serve, EDGE, _fragments())
    assert (first.code, first.stored) == (again.code, again.stored) == ("ok", SIZE)
    assert len(target.fragments) == 1
    # Another edge still may not, and a refused hand-over is not remembered.
    assert _ask(serve, OTHER_EDGE, _fragments()).code == "not_your_device"
    other = dataclasses.replace(_fragments(), record_id=bytes(32))
    target.ledger.puts[bytes(32)] = _put(record_id=bytes(32))
    assert _ask(serve, EDGE, dataclasses.replace(other, fragments=(b"x",))).code == "bad_fragment"
    assert _ask(serve, EDGE, other).code == "ok"
    assert len(target.fragments) == 3


def test_the_fragment_count_is_checked_once_against_the_record() -> None:
    target = FakeTarget()
    _committed(target)
    serve = _server(target)
    reply = _ask(serve, EDGE, _fragments(SIZE - 1))
    assert (reply.code, reply.message) == ("bad_fragment", f"expected {SIZE} fragments")
    assert [len(f) for _, f in target.fragments] == [SIZE - 1]


def _asking(answers: dict[str, bytes | Exception]) -> submit.EdgeSubmitter:
    async def request(peer: str, protocol: str, payload: bytes) -> bytes:
        answer = answers[peer]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return submit.EdgeSubmitter(request, lambda: list(answers))


def _busy() -> bytes:
    return EdgeSubmitReply("busy", "retry later", b"", 0).to_bytes()


def test_busy_everywhere_is_busy_but_a_lost_answer_before_it_stays_unavailable() -> None:
    """``busy`` means the node kept nothing; a node whose answer was lost may have kept it,
    so the edge must then watch the upload (``unavailable``), not forget it."""
    with pytest.raises(submit.SubmitRefused) as everywhere:
        trio.run(_asking({"a": _busy(), "b": _busy()}).submit_tx, b"tx")
    assert everywhere.value.code == "busy"
    lost = _asking({"a": P2PError("stream reset"), "b": _busy()})
    with pytest.raises(submit.SubmitRefused) as maybe_taken:
        trio.run(lost.submit_tx, b"tx")
    assert maybe_taken.value.code == "unavailable"
    assert "stream reset" in maybe_taken.value.message
    ok = EdgeSubmitReply("ok", "", bytes(32), 0).to_bytes()
    assert trio.run(_asking({"a": _busy(), "b": ok}).submit_tx, b"tx") == bytes(32)
