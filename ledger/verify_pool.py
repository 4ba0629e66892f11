"""Checking stored blocks in worker processes, with the calling process lending a hand.

:func:`pooled_summaries` yields the :class:`~ledger.block_check.BlockSummary` of every stored
block in height order, exactly what a plain loop over
:func:`~ledger.block_check.check_stored_block` yields, but with the per-block work spread over
``workers`` spawned processes.

A spawned worker needs a fresh interpreter, its imports and a copy of the index before it can
check anything: a few hundred milliseconds, as long as checking several hundred blocks. Waiting
for that made two workers slower than none on chains of a thousand blocks. So the calling process
never waits idle: until a worker reports ready, and whenever every worker already has its share
of chunks queued, it checks the next chunk itself. Results are handed out strictly in height
order, and at most :data:`CHUNKS_HELD` chunks are held ahead of the one the caller is waiting for.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ledger.block_check import BlockSummary, check_stored_block
from ledger.chain_index import ChainIndex
from ledger.errors import LedgerError
from ledger.genesis import Genesis

#: ``(height, block bytes, commit QC bytes)``, ``None`` where a value is absent.
StoredItem = tuple[int, bytes | None, bytes | None]

#: Blocks per chunk (one task), chunks queued per worker, and chunks held at most.
CHUNK_BLOCKS = 32
CHUNKS_PER_WORKER = 2
CHUNKS_HELD = 16
#: Whether the calling process checks chunks itself; tests turn it off to drive the workers.
CALLER_HELPS = True
#: ``fork`` or ``spawn`` to force a start method; ``None`` chooses (see :func:`start_method`).
START_METHOD: str | None = None

Slot = Future[list[BlockSummary]] | list[BlockSummary]


def _chunks(items: Iterable[StoredItem], size: int) -> Generator[list[StoredItem], None, None]:
    chunk: list[StoredItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _summaries_of(slot: Slot) -> list[BlockSummary]:
    return slot.result() if isinstance(slot, Future) else slot


def start_method() -> str:
    """How worker processes start: :data:`START_METHOD` if set, else ``fork`` when this process
    runs no other Python thread, else ``spawn``.

    A forked worker starts in milliseconds and inherits the index; a spawned one needs a fresh
    interpreter, its imports and a pickled copy of the index. Forking is unsound only if another
    thread (trio, a worker thread) could hold a lock the child inherits; LevelDB's own threads
    do not matter, as workers never call into LevelDB.
    """
    if START_METHOD is not None:
        return START_METHOD
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


class _Pool:
    """A process pool that starts in the background and says when a worker is up."""

    def __init__(self, genesis: Genesis, index: ChainIndex, workers: int) -> None:
        method = start_method()
        # Forked workers inherit the index; spawned ones get it pickled (a few flat strings).
        self.executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context(method),
            initializer=init_worker,
            initargs=(genesis.to_bytes(), index),
        )
        # One probe per worker: submitting the first ones starts the processes, and a finished
        # probe says that a worker is up.
        self._probes: list[Future[None]] = []
        self._starter: threading.Thread | None = None
        if method == "fork":
            self._start(workers)
        else:
            # Starting a spawned process blocks until the child has read the pickled index
            # from a pipe, after its interpreter has started: a thread waits for that while
            # the caller checks blocks.
            self._starter = threading.Thread(
                target=self._start, args=(workers,), name="verify-pool-start", daemon=True
            )
            self._starter.start()

    def _start(self, workers: int) -> None:
        self._probes.extend(self.executor.submit(worker_ready) for _ in range(workers))

    def ready(self) -> bool:
        """Whether a task submitted now would run soon (a worker is up)."""
        # Submitting while the starter thread is still inside submit would wait for it.
        if self._starter is not None and self._starter.is_alive():
            return False
        return any(probe.done() for probe in self._probes)

    def close(self) -> None:
        """Cancel queued tasks and wait for the processes to exit."""
        if self._starter is not None:
            self._starter.join()
        self.executor.shutdown(wait=True, cancel_futures=True)


def pooled_summaries(
    genesis: Genesis, index: ChainIndex, items: Iterable[StoredItem], workers: int
) -> Generator[BlockSummary, None, None]:
    """The summaries of ``items`` (in increasing height order), checked in ``workers`` processes
    and in this one. Closing the generator stops the pool at once.

    Raises :class:`LedgerError` if a worker process dies.
    """
    pool = _Pool(genesis, index, workers)
    queued_limit = workers * CHUNKS_PER_WORKER
    slots: deque[Slot] = deque()
    try:
        for chunk in _chunks(items, CHUNK_BLOCKS):
            while slots and (not isinstance(slots[0], Future) or slots[0].done()):
                yield from _summaries_of(slots.popleft())
            queued = sum(1 for s in slots if isinstance(s, Future) and not s.done())
            if not CALLER_HELPS or (pool.ready() and queued < queued_limit):
                slots.append(pool.executor.submit(check_chunk, chunk))
            else:
                slots.append([check_stored_block(genesis, index, *item) for item in chunk])
            while len(slots) > CHUNKS_HELD:
                yield from _summaries_of(slots.popleft())
        while slots:
            yield from _summaries_of(slots.popleft())
    except BrokenProcessPool as exc:
        raise LedgerError(f"a verify worker process died: {exc}") from exc
    finally:
        pool.close()


# -- worker-process side ---------------------------------------------------------------------

_worker_state: tuple[Genesis, ChainIndex] | None = None


def init_worker(genesis_bytes: bytes, index: ChainIndex) -> None:
    """Process-pool initializer: decode the genesis and keep the index, once per worker."""
    global _worker_state
    _worker_state = (Genesis.from_bytes(genesis_bytes), index)


def worker_ready() -> None:
    """A no-op task: once it has run, its worker is initialised."""


def check_chunk(items: list[StoredItem]) -> list[BlockSummary]:
    """Run :func:`check_stored_block` over ``(height, block, qc)`` items in a worker."""
    if _worker_state is None:  # pragma: no cover - the pool always runs init_worker first
        raise RuntimeError("worker was not initialised")
    genesis, index = _worker_state
    return [check_stored_block(genesis, index, h, raw, qc) for h, raw, qc in items]
