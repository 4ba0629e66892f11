"""Checking stored blocks in worker processes.

:class:`CheckPool` runs :func:`~ledger.block_check.check_stored_block` over the stored blocks in
``workers`` processes and hands the summaries back strictly in height order, exactly what a
plain loop would produce. The per-block checks need only the genesis, so the pool starts on the
first chunks at once, and the caller reads the indexes (a few hundred milliseconds on a large
ledger) while the workers are busy; the index checks and everything that spans blocks are done
by the caller as the summaries come back.

Workers are forked when that is sound (see :func:`start_method`), which costs milliseconds;
spawned workers start a fresh interpreter and import the ledger first.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

from ledger.block_check import BlockSummary, check_stored_block
from ledger.errors import LedgerError
from ledger.genesis import Genesis

#: ``(height, block bytes, commit QC bytes)``, ``None`` where a value is absent.
StoredItem = tuple[int, bytes | None, bytes | None]

#: Blocks per task, and tasks submitted ahead of the one whose results are awaited: enough
#: to keep two workers busy while the caller reads the index of a 100,000-transaction ledger.
CHUNK_BLOCKS = 32
CHUNKS_AHEAD = 24
#: ``fork`` or ``spawn`` to force a start method; ``None`` chooses (see :func:`start_method`).
START_METHOD: str | None = None


def start_method() -> str:
    """How worker processes start: :data:`START_METHOD` if set, else ``fork`` when this process
    runs no other Python thread, else ``spawn``.

    Forking is unsound only if another thread could hold a lock that the child inherits held
    (a worker thread, trio's threads); LevelDB's own threads do not matter, as workers never
    call into LevelDB.
    """
    if START_METHOD is not None:
        return START_METHOD
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _chunks(items: Iterable[StoredItem], size: int) -> Iterator[list[StoredItem]]:
    chunk: list[StoredItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class CheckPool:
    """Worker processes checking ``items`` (in increasing height order), started at once.

    Use as a context manager; leaving it cancels what is queued and waits for the processes.
    """

    def __init__(self, genesis: Genesis, items: Iterable[StoredItem], workers: int) -> None:
        self._executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context(start_method()),
            initializer=init_worker,
            initargs=(genesis.to_bytes(),),
        )
        self._chunks = _chunks(items, CHUNK_BLOCKS)
        self._queued: deque[Future[list[BlockSummary]]] = deque()
        try:
            self._submit_ahead()
        except BaseException:
            self.close()
            raise

    def _submit_ahead(self) -> None:
        while len(self._queued) < CHUNKS_AHEAD:
            chunk = next(self._chunks, None)
            if chunk is None:
                return
            self._queued.append(self._executor.submit(check_chunk, chunk))

    def summaries(self) -> Generator[BlockSummary, None, None]:
        """Every item's summary, in order. Raises :class:`LedgerError` if a worker dies."""
        try:
            while self._queued:
                head = self._queued.popleft()
                self._submit_ahead()  # keep the workers busy while the caller works
                yield from head.result()
        except BrokenProcessPool as exc:
            raise LedgerError(f"a verify worker process died: {exc}") from exc

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> CheckPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- worker-process side ---------------------------------------------------------------------

_worker_genesis: Genesis | None = None


def init_worker(genesis_bytes: bytes) -> None:
    """Process-pool initializer: decode the genesis once per worker."""
    global _worker_genesis
    _worker_genesis = Genesis.from_bytes(genesis_bytes)


def check_chunk(items: list[StoredItem]) -> list[BlockSummary]:
    """Run :func:`check_stored_block` over ``(height, block, qc)`` items in a worker."""
    if _worker_genesis is None:  # pragma: no cover - the pool always runs init_worker first
        raise RuntimeError("worker was not initialised")
    genesis = _worker_genesis
    return [check_stored_block(genesis, h, raw, qc) for h, raw, qc in items]
