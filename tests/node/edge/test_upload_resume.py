"""An edge killed with uploads under way finishes them after its restart, over faked nodes.

"Killing" the edge is cancelling everything it runs at a chosen point; only its store is kept
(as only LevelDB survives a SIGKILL). A second :class:`DeviceIngest` over the same store, as the
restarted edge builds it, then runs the resumer's passes. Covered: a kill between submit and
commit (the nodes lost the transaction: the same signed bytes are resent), between commit and
the hand-over (the resumer hands the fragments over), a transaction refused for good (failed,
with the reason), one older than the freshness window that a node still holds (kept, stored
once it commits: age alone never drops fragments), a "not found" while the resend finds no node
(kept), an upload answered 503 (watched within the window, then resent to learn its fate), a
device's retry landing while the resumer steps the old state (the stale step writes nothing),
and a resumer step that raises (logged, retried, the edge runs on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from ledger.errors import StoreError
from ledger.kv import MemoryStore
from ledger.transactions import PutRecord, decode_transaction
from node.edge.device_ingest import DeviceIngest, IngestRefused
from node.edge.pending_uploads import BODY_PREFIX, PendingUpload, UploadStatus
from node.edge.submit import SubmitRefused
from node.edge.upload_finisher import MAX_BACKOFF_SECONDS
from tests.node.edge.test_device_ingest import CHAIN, EDGE, FakeProofs, World, world

__all__ = ["world"]
WINDOW_MS = 300_000


class Nodes:
    """Consensus nodes: ``commit`` makes a submitted tx commit at once; ``hand_over`` False
    answers fragments ``unavailable``; ``refuse`` refuses every submission."""

    def __init__(self, proofs: FakeProofs, *, commit: bool = True, hand_over: bool = True,
                 refuse: SubmitRefused | None = None) -> None:
        self.proofs = proofs
        self.commit = commit
        self.hand_over = hand_over
        self.refuse = refuse
        self.sent: list[bytes] = []
        self.fragments: dict[bytes, Sequence[bytes]] = {}

    async def submit_tx(self, raw: bytes) -> bytes:
        self.sent.append(raw)
        if self.refuse is not None:
            raise self.refuse
        tx = decode_transaction(raw)
        if self.commit:
            self.proofs.committed[tx.tx_id()] = tx
        return tx.tx_id()

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        if not self.hand_over:
            raise SubmitRefused("unavailable", "no node answered")
        self.fragments[record_id] = list(fragments)
        return len(fragments)


def fragments_in(store: MemoryStore, record_id: bytes) -> tuple[bytes, ...]:
    """The fragments the edge's store keeps for an upload (read as the store holds them)."""
    return tuple(value for _, value in store.iterate(BODY_PREFIX + record_id + b"f"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def edge(world: World, store: MemoryStore, proofs: Any, nodes: Nodes,
         clock: Callable[[], int] | None = None) -> DeviceIngest:
    genesis = SimpleNamespace(chain_id=CHAIN, threshold=3, size=4)
    return DeviceIngest(
        genesis, EDGE, world.edge_key, world.group, proofs, nodes,  # type: ignore[arg-type]
        store=store, resubmit_window_ms=WINDOW_MS, clock_ms=clock or Clock(),
    )


def upload_then_kill(ingest: DeviceIngest, body: Any, until: str) -> PendingUpload:
    """Upload ``body``, wait until its stored state is ``until``, then stop everything."""

    async def main() -> PendingUpload:
        async with trio.open_nursery() as nursery:
            await nursery.start(ingest.run)
            state = await ingest.ingest(body.device_id, body.to_bytes())
            assert state.status == "pending"
            with trio.fail_after(30):
                while (now := ingest.upload(state.record_id)) is None or now.status != until:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()  # the kill: nothing after this point runs
        return now

    return trio.run(main)


def resume(ingest: DeviceIngest, *before: Callable[[], object]) -> PendingUpload | None:
    """Run passes of the restarted edge's resumer in one run, past any back-off between them,
    each after its ``before`` (one pass if none); returns the first upload left open."""

    async def main() -> None:
        for step in before or (lambda: None,):
            await trio.sleep(MAX_BACKOFF_SECONDS)  # a mock clock: jumps at once
            step()
            await ingest.finisher.resume_pass()

    trio.run(main, clock=MockClock(autojump_threshold=0))
    still_open = ingest.uploads.open_ids()
    return ingest.upload(still_open[0]) if still_open else None


def test_killed_between_submit_and_commit_the_same_tx_is_resent(world: World) -> None:
    store, proofs = MemoryStore(), FakeProofs(world.registration)
    lost = Nodes(proofs, commit=False)  # took it, then went down with its mempool
    body = world.upload()
    killed = upload_then_kill(edge(world, store, proofs, lost), body, "pending")
    assert len(lost.sent) == 1
    kept = fragments_in(store, body.record_id)
    assert len(kept) == 4

    nodes = Nodes(proofs)
    restarted = edge(world, store, proofs, nodes)
    assert restarted.uploads.open_ids() == [body.record_id]

    def resent() -> None:
        assert nodes.sent == lost.sent  # the same signed bytes, so the same tx id
        assert nodes.fragments == {}

    # Pass 1: not committed and young, so resent (the nodes commit it); pass 2: committed,
    # so the fragments go over.
    assert resume(restarted, lambda: None, resent) is None
    after = restarted.upload(body.record_id)
    assert after is not None
    assert (after.status, after.tx_id, after.fragments_stored) == ("stored", killed.tx_id, 4)
    assert nodes.fragments[body.record_id] == list(kept)
    assert restarted.uploads.open_ids() == []
    assert list(store.iterate(BODY_PREFIX)) == []  # a stored upload keeps no body


def test_killed_between_commit_and_hand_over_the_resumer_hands_over(world: World) -> None:
    store, proofs = MemoryStore(), FakeProofs(world.registration)
    body = world.upload()
    down = Nodes(proofs, hand_over=False)
    killed = upload_then_kill(edge(world, store, proofs, down), body, "committed")
    assert killed.height == 1
    assert down.fragments == {}
    kept = fragments_in(store, body.record_id)

    nodes = Nodes(proofs)
    restarted = edge(world, store, proofs, nodes)
    assert resume(restarted) is None  # nothing left open
    after = restarted.upload(body.record_id)
    assert after is not None
    assert (after.status, after.fragments_stored) == ("stored", 4)
    assert list(store.iterate(BODY_PREFIX)) == []
    assert nodes.sent == []  # a committed record is not resent
    put = decode_transaction(down.sent[0])
    assert isinstance(put, PutRecord)
    assert nodes.fragments[body.record_id] == list(kept)


def test_a_tx_refused_for_good_fails_with_its_reason(world: World) -> None:
    store, proofs = MemoryStore(), FakeProofs(world.registration)
    first, second = world.upload(), world.upload(b"another reading")
    ingest = edge(world, store, proofs, Nodes(proofs, commit=False))
    upload_then_kill(ingest, first, "pending")
    upload_then_kill(ingest, second, "pending")
    # Restarted: the nodes refuse a resend for good; the tx is not committed.
    refusing = Nodes(proofs, refuse=SubmitRefused("invalid", "stale epoch"))
    restarted = edge(world, store, proofs, refusing)
    resume(restarted)
    for body in (first, second):
        after = restarted.upload(body.record_id)
        assert after is not None
        assert (after.status, after.reason) == ("failed", "dropped: invalid: stale epoch")


def test_a_resend_refused_as_busy_stays_open_and_is_sent_again(world: World) -> None:
    store, proofs = MemoryStore(), FakeProofs(world.registration)
    body = world.upload()
    upload_then_kill(edge(world, store, proofs, Nodes(proofs, commit=False)), body, "pending")
    # Restarted while the network sheds load: the resend is refused as busy, not for good.
    busy = edge(world, store, proofs, Nodes(proofs, refuse=SubmitRefused("busy", "retry later")))
    resume(busy)
    after = busy.upload(body.record_id)
    assert after is not None
    assert after.status == "pending"
    # Once the nodes take it again it goes through: resent and committed, then handed over.
    restarted = edge(world, store, proofs, Nodes(proofs))
    assert resume(restarted, lambda: None, lambda: None) is None
    done = restarted.upload(body.record_id)
    assert done is not None
    assert done.status == "stored"


def test_an_old_tx_a_node_still_holds_is_kept_until_it_commits(world: World) -> None:
    # Two of four nodes down for six minutes: the tx waits in a live node's pending pool
    # (a resend answers ok, as ``duplicate``), not committed, well past the window.
    store, proofs, clock = MemoryStore(), FakeProofs(world.registration), Clock()
    body = world.upload()
    holding = Nodes(proofs, commit=False)
    upload_then_kill(edge(world, store, proofs, holding, clock), body, "pending")
    killed = fragments_in(store, body.record_id)
    restarted = edge(world, store, proofs, holding, clock)

    def later() -> None:
        clock.now += WINDOW_MS // 2 + 1

    def quorum_back() -> None:  # still kept, with its fragments; now the block is made
        kept = restarted.upload(body.record_id)
        assert kept is not None
        assert (kept.status, fragments_in(store, body.record_id)) == ("pending", killed)
        assert len(holding.sent) > 1  # resent to ask, each time answered "still held"
        tx = decode_transaction(holding.sent[0])
        proofs.committed[tx.tx_id()] = tx

    assert resume(restarted, later, later, later, quorum_back) is None
    after = restarted.upload(body.record_id)
    assert after is not None
    assert (after.status, after.fragments_stored) == ("stored", 4)
    assert holding.fragments[body.record_id] == list(killed)


def test_not_found_while_no_node_takes_the_resend_decides_nothing(world: World) -> None:
    # The one connected node says "not found" (proofs), the others time out (the resend).
    store, proofs, clock = MemoryStore(), FakeProofs(world.registration), Clock()
    body = world.upload()
    upload_then_kill(
        edge(world, store, proofs, Nodes(proofs, commit=False), clock), body, "pending"
    )
    killed = fragments_in(store, body.record_id)
    away = Nodes(proofs, refuse=SubmitRefused("unavailable", "timed out"))
    restarted = edge(world, store, proofs, away, clock)

    def much_later() -> None:
        clock.now += 10 * WINDOW_MS

    resume(restarted, much_later, much_later)
    kept = restarted.upload(body.record_id)
    assert kept is not None
    assert (kept.status, fragments_in(store, body.record_id)) == ("pending", killed)
    assert len(killed) == 4
    assert len(away.sent) == 2


def refused_code(ingest: DeviceIngest, body: Any) -> str:
    """The code ``ingest`` refuses ``body`` with (it must refuse it)."""
    async def main() -> str:
        async with trio.open_nursery() as nursery:
            await nursery.start(ingest.run)
            try:
                await ingest.ingest(body.device_id, body.to_bytes())
            except IngestRefused as exc:
                return exc.code
            finally:
                nursery.cancel_scope.cancel()
        raise AssertionError("not refused")

    return trio.run(main)


def test_an_upload_answered_503_is_watched_then_resent_to_learn_its_fate(world: World) -> None:
    store, proofs, clock = MemoryStore(), FakeProofs(world.registration), Clock()
    body = world.upload()
    unsure = Nodes(proofs, refuse=SubmitRefused("unavailable", "timed out"))
    assert refused_code(edge(world, store, proofs, unsure, clock), body) == "unavailable"
    refusing = Nodes(proofs, refuse=SubmitRefused("invalid", "record id already used"))
    restarted = edge(world, store, proofs, refusing, clock)

    def watched() -> None:
        state = restarted.upload(body.record_id)
        assert state is not None
        assert state.status == "unconfirmed"  # not committed, within the window: only watched
        assert refusing.sent == []
        clock.now += WINDOW_MS + 1

    assert resume(restarted, lambda: None, watched) is None
    assert len(refusing.sent) == 1  # past the window: resent once, refused for good
    assert restarted.upload(body.record_id) is None  # nothing happened: forgotten

    # Past the window a node still holds it: kept (pending again), then stored on commit.
    store = MemoryStore()
    assert refused_code(edge(world, store, proofs, unsure, clock), body) == "unavailable"
    clock.now += WINDOW_MS + 1
    holding = Nodes(proofs, commit=False)
    restarted = edge(world, store, proofs, holding, clock)
    def taken_again() -> None:
        kept = restarted.upload(body.record_id)
        assert kept is not None
        assert (kept.status, kept.reason) == ("pending", "")
        assert len(fragments_in(store, body.record_id)) == 4
        tx = decode_transaction(holding.sent[0])
        proofs.committed[tx.tx_id()] = tx

    assert resume(restarted, lambda: None, taken_again) is None
    after = restarted.upload(body.record_id)
    assert after is not None
    assert after.status == "stored"


class Gated(FakeProofs):
    """Holds the next ``fetch_tx`` until ``gate`` is set (``entered`` once it waits)."""

    gate: trio.Event | None = None
    entered: trio.Event | None = None

    async def fetch_tx(self, tx_id: bytes) -> Any:
        gate, self.gate = self.gate, None
        if gate is not None and self.entered is not None:
            self.entered.set()
            await gate.wait()
        return await super().fetch_tx(tx_id)


def test_a_retry_during_a_resumer_step_is_answered_busy_and_changes_nothing(
    world: World,
) -> None:
    store, clock = MemoryStore(), Clock()
    proofs = Gated(world.registration)
    body = world.upload()
    nodes = Nodes(proofs, commit=False, refuse=SubmitRefused("unavailable", "timed out"))
    ingest = edge(world, store, proofs, nodes, clock)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(ingest.run)
            with pytest.raises(IngestRefused):
                await ingest.ingest(body.device_id, body.to_bytes())
            clock.now += WINDOW_MS + 1  # the 503 upload is past the window
            gate = proofs.gate = trio.Event()
            entered = proofs.entered = trio.Event()
            stepped = trio.Event()

            async def resumer() -> None:
                await ingest.finisher.resume_pass()
                stepped.set()

            nursery.start_soon(resumer)
            await entered.wait()  # the resumer read the unconfirmed state and waits
            nodes.refuse = None  # the device retries its 503 now
            with pytest.raises(IngestRefused) as refused:
                await ingest.ingest(body.device_id, body.to_bytes())
            assert refused.value.code == "busy"
            assert len(nodes.sent) == 1  # the retry sent nothing
            gate.set()
            await stepped.wait()  # sent moments ago, so not resent yet: nothing changed
            assert not ingest.finisher.busy(body.record_id)
            state = ingest.upload(body.record_id)
            assert state is not None
            assert state.status == "unconfirmed"
            assert len(fragments_in(store, body.record_id)) == 4
            retried = await ingest.ingest(body.device_id, body.to_bytes())
            assert retried.status == "pending"  # the retry, now let through, is sent
            tx = decode_transaction(nodes.sent[-1])
            proofs.committed[tx.tx_id()] = tx
            with trio.fail_after(30):
                while (stored := ingest.upload(body.record_id)) is None or not stored.done:
                    await trio.sleep(0.01)
            assert (stored.status, stored.fragments_stored) == ("stored", 4)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_stale_step_writes_nothing(world: World) -> None:
    store, clock = MemoryStore(), Clock()
    proofs = Gated(world.registration)
    body = world.upload()
    unsure = Nodes(proofs, refuse=SubmitRefused("unavailable", "timed out"))
    assert refused_code(edge(world, store, proofs, unsure, clock), body) == "unavailable"
    clock.now += WINDOW_MS + 1
    refusing = Nodes(proofs, refuse=SubmitRefused("invalid", "record id already used"))
    restarted = edge(world, store, proofs, refusing, clock)
    stale = restarted.upload(body.record_id)
    assert stale is not None

    async def main() -> PendingUpload | None:
        gate = proofs.gate = trio.Event()
        entered = proofs.entered = trio.Event()
        result: list[PendingUpload | None] = []
        async with trio.open_nursery() as nursery:

            async def step() -> None:
                result.append(await restarted.finisher.step(stale))

            nursery.start_soon(step)
            await entered.wait()
            clock.now += 1  # meanwhile another task saved a newer state of the upload
            await restarted.uploads.move(stale, UploadStatus.SUBMITTED, clock.now, reason="")
            gate.set()
        return result[0]

    after = trio.run(main)
    assert len(refusing.sent) == 1  # the step ran: resent, refused for good...
    assert after is not None
    assert after.status == "pending"
    kept = restarted.upload(body.record_id)
    assert kept is not None
    assert kept.status == "pending"
    assert len(fragments_in(store, body.record_id)) == 4


def test_a_refused_re_upload_keeps_what_the_edge_knew(world: World) -> None:
    proofs = FakeProofs(world.registration)
    nodes = Nodes(proofs)
    ingest = edge(world, MemoryStore(), proofs, nodes)
    body = world.upload()

    async def upload_once() -> PendingUpload | IngestRefused:
        async with trio.open_nursery() as nursery:
            await nursery.start(ingest.run)
            try:
                state = await ingest.ingest(body.device_id, body.to_bytes())
            except IngestRefused as exc:
                return exc
            else:
                with trio.fail_after(30):
                    while (now := ingest.upload(state.record_id)) is not None and not now.done:
                        await trio.sleep(0.01)
                return ingest.upload(state.record_id) or state
            finally:
                nursery.cancel_scope.cancel()

    stored = trio.run(upload_once)
    assert isinstance(stored, PendingUpload)
    assert stored.status == "stored"
    nodes.refuse = SubmitRefused("invalid", "record id already used")
    assert trio.run(upload_once) == stored  # the same upload again: its finished state
    assert len(nodes.sent) == 1

    async def fail_it() -> PendingUpload:
        return await ingest.uploads.move(stored, UploadStatus.FAILED, 1, reason="dropped")

    failed = trio.run(fail_it)
    refused = trio.run(upload_once)  # a failed one is tried again; refused, it stays failed
    assert isinstance(refused, IngestRefused)
    assert refused.code == "refused"
    assert ingest.upload(body.record_id) == failed
    assert body.record_id not in ingest.finisher._sent  # noted nothing for it (no leak)


class Broken(FakeProofs):
    async def fetch_tx(self, tx_id: bytes) -> Any:
        raise RuntimeError("a bug in the proof layer")


def test_a_failing_step_is_logged_and_retried_later(world: World) -> None:
    store, proofs = MemoryStore(), FakeProofs(world.registration)
    body = world.upload()
    upload_then_kill(edge(world, store, proofs, Nodes(proofs, commit=False)), body, "pending")
    restarted = edge(world, store, Broken(world.registration), Nodes(proofs))

    async def passes() -> list[int]:
        return [await restarted.finisher.resume_pass() for _ in range(2)]

    assert trio.run(passes) == [1, 0]  # stepped once, then backing off
    state = restarted.upload(body.record_id)
    assert state is not None
    assert state.status == "pending"


class FullDisk(MemoryStore):
    def write(self, ops: Any, *, sync: bool = True) -> None:
        raise StoreError("no space left on device")


def test_an_upload_the_edge_cannot_write_is_refused_and_not_sent(world: World) -> None:
    proofs = FakeProofs(world.registration)
    nodes = Nodes(proofs)
    ingest = edge(world, FullDisk(), proofs, nodes)
    body = world.upload()
    assert refused_code(ingest, body) == "unavailable"
    assert nodes.sent == []
    assert ingest.upload(body.record_id) is None
