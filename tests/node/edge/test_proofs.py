"""The proof protocol without a network: the consensus node's handler, the edge's fetcher
against honest, lying and absent peers, and the edge's HTTP routes over it."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import httpx
import pytest
import trio

from ledger.header_chain import HeaderChain, HeaderRequest
from ledger.inclusion import (
    ProofKind,
    ProofNotFound,
    ProofRequest,
    ResultInclusion,
    TxInclusion,
    decode_answer,
)
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import AccessRequest, MemberRole
from node.edge.http import edge_app
from node.edge.proof_cache import NotFoundCache
from node.edge.proofs import (
    MAX_REQUEST_BYTES,
    PROOFS_PROTOCOL,
    HeaderBehind,
    ItemNotFound,
    ProofError,
    ProofFetcher,
    ProofRefused,
    proof_server,
)
from node.edge.protocol import certified_headers
from node.p2p import RequestRejected, StreamBroken

Answer = Callable[[bytes], Awaitable[bytes]]


@dataclasses.dataclass
class World:
    fx: ChainFixture
    ledger: Ledger
    request: AccessRequest

    def tx_id(self, height: int, position: int) -> bytes:
        stored = self.ledger.block(height)
        assert stored is not None
        return stored.block.transactions[position].tx_id()

    def edge_chain(self, upto: int | None = None) -> HeaderChain:
        chain = HeaderChain(MemoryStore(), self.fx.genesis)
        count = self.ledger.height if upto is None else upto
        for certified in certified_headers(self.ledger, HeaderRequest(1, count)).headers:
            chain.extend(certified)
        return chain

    async def honest(self, payload: bytes) -> bytes:
        return await proof_server(self.ledger)(None, payload)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    """Members in block 1, two records and a grant in block 2, a granted request in block 3."""
    fx = ChainFixture(4)
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    members = [fx.register("alice"), fx.register("bob", role=MemberRole.REQUESTER)]
    fx.commit(ledger, [*members, fx.publish_key("alice"), fx.publish_key("bob")])
    records = [fx.put_record("alice", "r1"), fx.put_record("alice", "r2")]
    fx.commit(ledger, [*records, fx.grant("alice", "r1", "bob")])
    request = fx.request("bob", "r1", at_ms=fx.time_at(3))
    fx.commit(ledger, [request], [fx.result(request, granted=True)])
    return World(fx, ledger, request)


def run(world: World, kind: ProofKind, item_id: bytes) -> bytes:
    return trio.run(world.honest, ProofRequest(kind, item_id).to_bytes())


# -- the consensus node's handler --------------------------------------------------------------


def test_server_answers_proofs_and_typed_not_found(world: World) -> None:
    tx = decode_answer(run(world, ProofKind.TRANSACTION, world.tx_id(2, 1)))
    assert isinstance(tx, TxInclusion)
    assert (tx.height, tx.index, tx.count) == (2, 1, 3)
    decision = decode_answer(run(world, ProofKind.DECISION, world.request.tx_id()))
    assert isinstance(decision, ResultInclusion)
    assert decision.result.request_id == world.request.tx_id()
    missing = decode_answer(run(world, ProofKind.TRANSACTION, b"\x07" * 32))
    assert missing == ProofNotFound(
        ProofKind.TRANSACTION, b"\x07" * 32, "no committed transaction with this id"
    )
    not_a_request = decode_answer(run(world, ProofKind.DECISION, world.tx_id(2, 0)))
    assert isinstance(not_a_request, ProofNotFound)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "bad proof request"),
        (b"\x00garbage", "bad proof request"),
        (ProofRequest(1, bytes(32)).to_bytes() + b"\x00", "bad proof request"),
        (ProofRequest(9, bytes(32)).to_bytes(), "ProofKind"),
        (b"\x6e" * (MAX_REQUEST_BYTES + 1), f"at most {MAX_REQUEST_BYTES}"),
    ],
)
def test_server_refuses_malformed_requests(world: World, payload: bytes, reason: str) -> None:
    before = list(world.ledger.store.iterate())
    with pytest.raises(RequestRejected, match=reason):
        trio.run(world.honest, payload)
    assert list(world.ledger.store.iterate()) == before


# -- the edge's fetcher --------------------------------------------------------------------------


def fetcher(world: World, peers: dict[str, Answer], chain: HeaderChain | None = None,
            wait: float = 0.2) -> ProofFetcher:
    async def request(peer: str, protocol: str, payload: bytes) -> bytes:
        assert protocol == PROOFS_PROTOCOL
        return await peers[peer](payload)

    return ProofFetcher(
        chain if chain is not None else world.edge_chain(), request, lambda: list(peers),
        header_wait=wait,
    )


def tampered(world: World, change: Callable[[TxInclusion | ResultInclusion], object]) -> Answer:
    """A peer that changes every proof the honest node would send."""

    async def answer(payload: bytes) -> bytes:
        proof = decode_answer(await world.honest(payload))
        assert isinstance(proof, TxInclusion | ResultInclusion)
        forged = change(proof)
        return forged if isinstance(forged, bytes) else forged.to_bytes()  # type: ignore[attr-defined]

    return answer


def forgeries(world: World) -> dict[str, Answer]:
    other = decode_answer(run(world, ProofKind.TRANSACTION, world.tx_id(1, 0)))
    assert isinstance(other, TxInclusion)

    def flip(path: tuple[bytes, ...]) -> tuple[bytes, ...]:
        return (bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:])

    def swap(proof: TxInclusion | ResultInclusion) -> TxInclusion:
        assert isinstance(proof, TxInclusion)
        return dataclasses.replace(proof, transaction=other.transaction)

    return {
        "wrong path": tampered(world, lambda p: dataclasses.replace(p, path=flip(p.path))),
        "wrong height": tampered(world, lambda p: dataclasses.replace(p, height=1)),
        "tx not in block": tampered(world, swap),
        "proof of another tx": tampered(world, lambda p: other),
        "garbage": tampered(world, lambda p: b"\x6c\x01 not a proof"),
    }


@pytest.mark.parametrize("lie", ["wrong path", "wrong height", "tx not in block",
                                 "proof of another tx", "garbage"])
def test_a_forged_transaction_proof_is_refused_and_counted(world: World, lie: str) -> None:
    tx_id = world.tx_id(2, 1)
    liar = forgeries(world)[lie]
    alone = fetcher(world, {"liar": liar})
    with pytest.raises(ProofRefused):
        trio.run(alone.fetch_tx, tx_id)
    assert alone.refused == {"liar": 1}
    # With an honest node beside it the edge gets the verified transaction all the same.
    both = fetcher(world, {"liar": liar, "honest": world.honest})
    item = trio.run(both.fetch_tx, tx_id)
    assert item.transaction.tx_id() == tx_id
    stored = world.ledger.block(2)
    assert stored is not None
    assert (item.verified.height, item.verified.block_hash) == (2, stored.block.hash())
    assert both.refused == {"liar": 1}


def test_a_forged_decision_is_refused(world: World) -> None:
    request_id = world.request.tx_id()

    def denied(proof: TxInclusion | ResultInclusion) -> object:
        assert isinstance(proof, ResultInclusion)
        return dataclasses.replace(proof, result=dataclasses.replace(proof.result, granted=False))

    async def transaction_instead(payload: bytes) -> bytes:
        return await world.honest(ProofRequest(ProofKind.TRANSACTION, request_id).to_bytes())

    for liar in (tampered(world, denied), transaction_instead):
        with pytest.raises(ProofRefused):
            trio.run(fetcher(world, {"liar": liar}).fetch_decision, request_id)
    decision = trio.run(fetcher(world, {"honest": world.honest}).fetch_decision, request_id)
    assert decision.result.granted
    assert decision.verified.height == 3


def test_not_found_failures_and_no_peers(world: World) -> None:
    async def broken(payload: bytes) -> bytes:
        raise StreamBroken("reset")

    unknown = b"\x09" * 32
    with pytest.raises(ItemNotFound):
        trio.run(fetcher(world, {"a": world.honest, "b": broken}).fetch_tx, unknown)
    with pytest.raises(ProofError) as failed:
        trio.run(fetcher(world, {"b": broken}).fetch_tx, unknown)
    assert failed.value.code == "unavailable"
    with pytest.raises(ProofError, match="no consensus node is connected"):
        trio.run(fetcher(world, {}).fetch_tx, unknown)
    # A node that fails is passed over for the next.
    item = trio.run(fetcher(world, {"b": broken, "a": world.honest}).fetch_tx, world.tx_id(3, 0))
    assert item.verified.height == 3


def test_round_robin_starts_at_the_next_peer(world: World) -> None:
    asked: list[str] = []

    def counting(name: str) -> Answer:
        async def answer(payload: bytes) -> bytes:
            asked.append(name)
            return await world.honest(payload)

        return answer

    proofs = fetcher(world, {"a": counting("a"), "b": counting("b"), "c": counting("c")})

    async def three() -> None:
        for _ in range(3):
            await proofs.fetch_tx(world.tx_id(1, 0))

    trio.run(three)
    assert asked == ["a", "b", "c"]


def test_a_lagging_edge_waits_briefly_for_its_header(world: World) -> None:
    behind = world.edge_chain(upto=2)
    with pytest.raises(HeaderBehind):
        trio.run(fetcher(world, {"a": world.honest}, behind, wait=0.1).fetch_tx, world.tx_id(3, 0))
    header = certified_headers(world.ledger, HeaderRequest(3, 1)).headers[0]
    proofs = fetcher(world, {"a": world.honest}, behind, wait=30.0)

    async def catch_up_while_fetching() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(proofs.fetch_tx, world.tx_id(3, 0))
            await trio.sleep(0.2)
            behind.extend(header)

    trio.run(catch_up_while_fetching)  # the fetch finishes once the header arrives


# -- the edge's HTTP routes --------------------------------------------------------------------


def http_get(world: World, peers: dict[str, Answer], *paths: str) -> list[httpx.Response]:
    chain = world.edge_chain()
    proofs = fetcher(world, peers, chain)
    app = edge_app(chain, lambda: len(peers), lambda: {}, proofs)

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
            return [await client.get(path) for path in paths]

    return trio.run(main)


def test_http_routes_answer_verified_items(world: World) -> None:
    tx_id, request_id = world.tx_id(2, 0), world.request.tx_id()
    tx, decision, missing, bad = http_get(
        world,
        {"a": world.honest},
        f"/tx/{tx_id.hex()}",
        f"/decisions/{request_id.hex()}",
        f"/tx/{'ab' * 32}",
        "/decisions/xyz",
    )
    assert tx.status_code == 200, tx.text
    stored = world.ledger.block(2)
    assert stored is not None
    body = tx.json()
    assert body["type"] == "PutRecord"
    assert body["raw"] == stored.block.transactions[0].to_bytes().hex()
    assert body["verified"] == {
        "height": 2, "block_hash": stored.block.hash().hex(), "index_claimed": 0
    }
    assert decision.status_code == 200, decision.text
    assert decision.json()["status"] == "granted"
    assert decision.json()["verified"]["height"] == 3
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_request")


def test_http_headers_take_only_a_u64_height_in_ascii_digits(world: World) -> None:
    bad = ["/headers/%C2%B2", "/headers/%D9%A3", "/headers/0", "/headers/-1", "/headers/+2",
           "/headers/1_0", "/headers/" + "9" * 4400, f"/headers/{2**64}", "/headers/" + "0" * 21]
    answers = http_get(world, {"a": world.honest}, "/headers/2", f"/headers/{2**64 - 1}", *bad)
    good, beyond, *refused = answers
    assert (good.status_code, good.json()["height"]) == (200, 2)
    assert (beyond.status_code, beyond.json()["error"]["code"]) == (404, "not_found")
    for path, answer in zip(bad, refused, strict=True):
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "bad_request"), path


def test_http_refuses_a_forged_proof_with_502(world: World) -> None:
    liar = forgeries(world)["wrong path"]
    answer, status = http_get(world, {"liar": liar}, f"/tx/{world.tx_id(2, 0).hex()}", "/status")
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "proof_invalid"
    assert "tx" not in answer.json()
    assert status.json()["proofs_refused_by_peer"] == {"liar": 1}


# -- not-found answers for ids a client named (quick) -------------------------------------------


def counting_peers(world: World, asked: list[str], have: str = "abcd") -> dict[str, Answer]:
    """Four peers, counted in ``asked``; those not in ``have`` have no committed item."""

    def peer(name: str) -> Answer:
        async def answer(payload: bytes) -> bytes:
            asked.append(name)
            if name in have:
                return await world.honest(payload)
            request = ProofRequest.from_bytes(payload)
            return ProofNotFound(request.kind, request.item_id, "not here yet").to_bytes()

        return answer

    return {name: peer(name) for name in "abcd"}


def test_a_quick_not_found_asks_two_nodes_and_is_remembered(world: World) -> None:
    asked: list[str] = []
    now = [0.0]
    proofs = fetcher(world, counting_peers(world, asked))
    proofs.not_found = NotFoundCache(seconds=2.0, clock=lambda: now[0])
    unknown = b"\x0a" * 32

    async def quick() -> None:
        with pytest.raises(ItemNotFound):
            await proofs.fetch_tx(unknown, quick=True)

    trio.run(quick)
    assert len(asked) == 2
    trio.run(quick)  # remembered: no node asked
    assert len(asked) == 2
    with pytest.raises(ItemNotFound):  # a fetch that is not quick still asks every node
        trio.run(proofs.fetch_tx, unknown)
    assert len(asked) == 6
    now[0] = 2.5  # forgotten after two seconds
    trio.run(quick)
    assert len(asked) == 8


def test_quick_fetches_still_find_items_past_failed_nodes(world: World) -> None:
    async def broken(payload: bytes) -> bytes:
        raise StreamBroken("reset")

    asked: list[str] = []
    peers = counting_peers(world, asked, have="c")
    # A failed node does not count towards the two not-found answers.
    proofs = fetcher(world, {"x": broken, "a": peers["a"], "c": peers["c"]})

    async def found() -> int:
        item = await proofs.fetch_decision(world.request.tx_id(), quick=True)
        return item.verified.height

    assert trio.run(found) == 3
    assert asked == ["a", "c"]


def test_an_item_only_lagging_nodes_lack_is_found_unless_quick(world: World) -> None:
    asked: list[str] = []
    proofs = fetcher(world, counting_peers(world, asked, have="c"))
    present = world.tx_id(2, 1)

    async def quick() -> None:
        await proofs.fetch_tx(present, quick=True)

    with pytest.raises(ItemNotFound):  # a and b lag: a client's quick fetch stops there
        trio.run(quick)
    assert asked == ["a", "b"]
    # Callers that need an item that must exist (the upload finisher) ask every node.
    item = trio.run(proofs.fetch_tx, present)
    assert item.verified.height == 2
    assert len(proofs.not_found) == 0  # finding the item forgets the not-found


def test_the_not_found_cache_is_a_bounded_lru() -> None:
    now = [0.0]
    cache = NotFoundCache(seconds=2.0, items=2, clock=lambda: now[0])
    cache.put(1, b"a")
    cache.put(1, b"b")
    cache.put(1, b"a")  # a becomes the most recent
    cache.put(2, b"b")  # another kind is another item; b of kind 1 goes
    assert len(cache) == 2
    assert (cache.hit(1, b"a"), cache.hit(1, b"b"), cache.hit(2, b"b")) == (True, False, True)
    now[0] = 2.0
    assert not cache.hit(1, b"a")
    with pytest.raises(ValueError, match="not-found cache"):
        NotFoundCache(items=0)


def test_http_answers_a_repeated_unknown_id_without_asking_again(world: World) -> None:
    asked: list[str] = []
    path = f"/tx/{'ab' * 32}"
    first, again = http_get(world, counting_peers(world, asked), path, path)
    assert [first.status_code, again.status_code] == [404, 404]
    assert again.json()["error"]["code"] == "not_found"
    assert len(asked) == 2
