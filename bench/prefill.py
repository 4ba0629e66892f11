"""Prior records for ``bench e2e --prior-records N``: N records on a running testnet's chain
before the latency is measured, put there as fast as the network takes them.

Several owners are registered with the authority key (:func:`bench.e2e_fixture.enroll`). Each
record is a real PutRecord built by :func:`client.owner.prepare_put` from a one-byte file (the
smallest the client seals; the ledger does not need the fragments, so none are posted and the
nodes store no bulk data for these records). Worker threads, spread over the nodes, prepare
and submit records without waiting for their commits; a node that answers 429 or 503, or does
not answer in time, is asked again after a pause that doubles up to :data:`MAX_BACKOFF_S`. At
most ``window`` records are submitted and not yet committed (by default
:data:`DEFAULT_WINDOW_BLOCKS` full blocks: enough to fill the next blocks, far below the 4,096
undecided submissions a node holds). The calling thread follows the committed blocks on node 1
until every record is in one, and submits again a record that a node dropped undecided
(``410 dropped``: consensus left it out of a block); then it waits until every node has
committed that height.

The rate reported is records over the seconds from the first submission to the last commit;
registering the owners is timed apart (``setup_s``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.e2e_fixture import enroll
from bench.report import BenchError, Progress, quiet
from client import ConnectionFailed, MemberKeys, NodeClient, NodeError
from client.owner import prepare_put
from client.session import Session
from consensus.config import ConsensusConfig
from crypto.groups import Group
from ledger.transactions import MemberRole, PutRecord
from testnet.layout import Network

#: Owners the records are spread over.
DEFAULT_OWNERS = 8
#: Records submitted and not yet seen committed, at most, in full blocks. Nodes re-check every
#: undecided submission after each block, so a longer queue costs them time: on a 4-node
#: testnet of a 2-core machine, 1,000 records went in at 65-100 records/s with 3 blocks (96
#: records) in flight and at 29-50 with 8 (256).
DEFAULT_WINDOW_BLOCKS = 3
#: Worker threads per node (each prepares and submits one record at a time).
THREADS_PER_NODE = 2
#: What each record seals: one byte.
FILE = b"\x00"
MIN_BACKOFF_S = 0.05
MAX_BACKOFF_S = 2.0
#: Pause between two looks at node 1's height.
POLL_S = 0.05
#: Seconds between two progress lines.
REPORT_EVERY_S = 5.0
#: Without a commit for this long, ask whether a node dropped an outstanding record.
STALL_CHECK_S = 10.0


@dataclass(frozen=True, slots=True)
class PrefillResult:
    """What :func:`prefill` put on the chain and how fast."""

    records: int
    owners: tuple[bytes, ...]
    height_before: int
    height_after: int
    setup_s: float
    seconds: float
    backoffs: int
    resubmitted: int

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "owners": len(self.owners),
            "height_before": self.height_before,
            "height_after": self.height_after,
            "setup_s": self.setup_s,
            "seconds": self.seconds,
            "records_per_s": self.records_per_s,
            "backoffs": self.backoffs,
            "resubmitted": self.resubmitted,
        }


class Outstanding:
    """Records submitted (or about to be) and not yet seen committed, shared by the threads."""

    def __init__(self, window: int) -> None:
        self.lock = threading.Lock()
        self.slots = threading.Semaphore(window)
        #: tx id (hex) -> the PutRecord and the index of the node it went to.
        self.pending: dict[str, tuple[PutRecord, int]] = {}
        self.committed = 0
        self.backoffs = 0
        self.resubmitted = 0
        self.failure: BaseException | None = None
        self.stopped = threading.Event()

    def add(self, tx: PutRecord, node: int) -> None:
        with self.lock:
            self.pending[tx.tx_id().hex()] = (tx, node)

    def settle(self, tx_ids: Sequence[str]) -> int:
        """Count the records among ``tx_ids`` (a committed block's) as committed."""
        found = 0
        with self.lock:
            for tx_id in tx_ids:
                if self.pending.pop(tx_id, None) is not None:
                    found += 1
            self.committed += found
        for _ in range(found):
            self.slots.release()
        return found

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = exc
        self.stopped.set()


def submit(session: Session, tx: PutRecord, state: Outstanding, deadline_s: float) -> None:
    """POST ``tx``; on 429, 503 or no answer, ask again after a growing pause, for at most
    ``deadline_s`` seconds of pauses. A ``duplicate`` answer means the node has it already.

    Raises :class:`~client.errors.NodeError` for any other refusal, and the last busy answer
    once the pauses run out.
    """
    pause, paused = MIN_BACKOFF_S, 0.0
    while True:
        try:
            session.submit(tx)
            return
        except NodeError as exc:
            if exc.code == "duplicate":
                return
            if exc.status not in (429, 503) or paused + pause > deadline_s:
                raise
        except ConnectionFailed:
            if paused + pause > deadline_s:
                raise
        with state.lock:
            state.backoffs += 1
        if state.stopped.wait(pause):
            return
        paused += pause
        pause = min(2 * pause, MAX_BACKOFF_S)


def prefill(
    network: Network,
    group: Group,
    records: int,
    *,
    owners: int = DEFAULT_OWNERS,
    window: int | None = None,
    timeout: float = 120.0,
    progress: Progress = quiet,
) -> PrefillResult:
    """Put ``records`` new records of ``owners`` fresh owners on ``network``'s chain and return
    once all are committed (module docstring); ``window`` defaults to
    :data:`DEFAULT_WINDOW_BLOCKS` blocks of the most items the nodes put in one.

    ``timeout`` bounds the wait for any progress: a stretch that long without a commit, or a
    node that has not reached the last height that long after node 1, raises
    :class:`~bench.report.BenchError`; a node still busy after that many seconds of pauses
    and a refused record raise the client's error (:class:`~client.errors.NodeError`,
    :class:`~client.errors.ConnectionFailed`). Raises :class:`ValueError` for ``records``,
    ``owners`` or ``window`` below 1.
    """
    if window is None:
        genesis = network.genesis
        config = ConsensusConfig(genesis.chain_id, genesis.size, genesis.quorum)
        window = DEFAULT_WINDOW_BLOCKS * config.max_items
    if records < 1 or owners < 1 or window < 1:
        raise ValueError("prefill needs at least one record, one owner and a window of one")
    urls = network.http_urls
    sessions = [Session(NodeClient(url, timeout=30), group) for url in urls]
    watcher = sessions[0]
    try:
        started = time.perf_counter()
        keys = [MemberKeys.generate(group, MemberRole.OWNER) for _ in range(owners)]
        enroll(watcher, network.authority_key(), [(k, ()) for k in keys], timeout)
        for session in sessions:
            _ = session.chain_id  # the genesis, fetched now rather than by the first submit
        setup_s = time.perf_counter() - started
        height_before = int(watcher.client.status()["height"])
        state = Outstanding(window)
        counter = iter(range(records))
        counter_lock = threading.Lock()

        def work(worker: int) -> None:
            node = worker % len(sessions)
            session = sessions[node]
            try:
                while not state.stopped.is_set():
                    with counter_lock:
                        index = next(counter, None)
                    if index is None:
                        return
                    while not state.slots.acquire(timeout=POLL_S):
                        if state.stopped.is_set():
                            return
                    upload = prepare_put(session, keys[index % owners], FILE, access_limit=1)
                    state.add(upload.put, node)
                    submit(session, upload.put, state, timeout)
            except BaseException as exc:  # handed to the calling thread, which raises it
                state.fail(exc)

        progress(f"prefill: {records} records of {owners} owners, "
                 f"{THREADS_PER_NODE * len(sessions)} threads over {len(sessions)} nodes")
        first = time.perf_counter()
        threads = [
            threading.Thread(target=work, args=(w,), name=f"prefill-{w}", daemon=True)
            for w in range(THREADS_PER_NODE * len(sessions))
        ]
        for thread in threads:
            thread.start()
        try:
            height_after, last = _follow(watcher, sessions, state, records, height_before,
                                         first, timeout, progress)
        finally:
            state.stopped.set()
            for thread in threads:
                thread.join()
        if state.failure is not None:
            raise state.failure
        _wait_height(sessions, height_after, timeout)
        return PrefillResult(
            records=records,
            owners=tuple(k.member_id for k in keys),
            height_before=height_before,
            height_after=height_after,
            setup_s=setup_s,
            seconds=last - first,
            backoffs=state.backoffs,
            resubmitted=state.resubmitted,
        )
    finally:
        for session in sessions:
            session.client.close()


def _follow(
    watcher: Session,
    sessions: Sequence[Session],
    state: Outstanding,
    records: int,
    height: int,
    first: float,
    timeout: float,
    progress: Progress,
) -> tuple[int, float]:
    """Read node 1's new blocks until all ``records`` are committed; (height, time of the
    last commit). Raises :class:`~bench.report.BenchError` after ``timeout`` s without a
    commit, and stops early (returning) when a worker failed."""
    last_commit = reported = time.perf_counter()
    checked = last_commit
    while state.committed < records and not state.stopped.is_set():
        head = int(watcher.client.status()["height"])
        for h in range(height + 1, head + 1):
            if state.settle(watcher.client.block(h)["tx_ids"]):
                last_commit = time.perf_counter()
        height = head
        now = time.perf_counter()
        if now - reported >= REPORT_EVERY_S:
            reported = now
            rate = state.committed / (now - first)
            progress(f"prefill: {state.committed}/{records} records committed, "
                     f"{rate:.0f} records/s, height {height}")
        if now - last_commit > timeout:
            raise BenchError(
                f"prefill: no record committed for {timeout:g} s "
                f"({state.committed}/{records} committed)"
            )
        if now - max(last_commit, checked) > STALL_CHECK_S:
            checked = now
            _resubmit_dropped(sessions, state, timeout)
        if state.committed < records:
            state.stopped.wait(POLL_S)
    return height, last_commit


def _wait_height(sessions: Sequence[Session], height: int, timeout: float) -> None:
    """Wait until every node has committed ``height``, so that no node is still catching up
    when the measurement starts; :class:`~bench.report.BenchError` after ``timeout`` s."""
    deadline = time.perf_counter() + timeout
    for session in sessions:
        while int(session.client.status()["height"]) < height:
            if time.perf_counter() > deadline:
                raise BenchError(f"prefill: {session.client.base_url} did not reach height "
                                 f"{height} within {timeout:g} s")
            time.sleep(POLL_S)


def _resubmit_dropped(sessions: Sequence[Session], state: Outstanding, timeout: float) -> None:
    """Submit again every outstanding record its node says it dropped undecided."""
    with state.lock:
        waiting = list(state.pending.items())
    for tx_id, (tx, node) in waiting:
        try:
            sessions[node].client.tx(tx_id)
        except NodeError as exc:
            if exc.code != "dropped":
                continue  # pending still (404), or committed since
            with state.lock:
                state.resubmitted += 1
            submit(sessions[node], tx, state, timeout)
