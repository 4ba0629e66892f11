"""Carrying the edge's uploads from submitted to stored, now and after a restart.

Every open upload of :class:`~node.edge.pending_uploads.PendingUploads` is moved by
:meth:`UploadFinisher.step`, one attempt at a time:

* ``submitted``: if a proven fetch of its transaction succeeds it is ``committed``. If every
  node says it has no such committed transaction, the edge resends the same signed bytes (same
  tx id; a node that still holds it answers ``duplicate``), at most every
  :data:`RESUBMIT_SECONDS`, while the upload is younger than the freshness window; older, or
  refused for good (and still not committed), it is ``failed`` with the reason.
* ``unconfirmed`` (the edge answered 503): watched the same way but never resent; still not
  committed after the window, it is deleted, since nothing happened.
* ``committed``: the fragments are handed over
  (:meth:`~node.edge.submit.EdgeSubmitter.store_fragments`); then ``stored``. A refusal
  other than ``unavailable``/``syncing``/``not_found``/``starting`` makes it ``failed``.

:meth:`UploadFinisher.follow` steps a new upload every :data:`RETRY_SECONDS` until it is done
or its commit timeout passes; :meth:`UploadFinisher.run` (started with the edge) steps the
others, at most :data:`PER_PASS` per pass, each with its own doubling back-off up to
:data:`MAX_BACKOFF_SECONDS`. A failure of one attempt (nodes away, a store error, a bug) is
logged and retried later; it never stops the edge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import trio

from node.edge.pending_uploads import PendingUpload, PendingUploads, UploadStatus
from node.edge.proofs import ItemNotFound, ProofError, VerifiedTx
from node.edge.submit import SubmitRefused

logger = logging.getLogger("iomtshare.node.edge.uploads")

RETRY_SECONDS = 0.5
RESUBMIT_SECONDS = 10.0
PASS_SECONDS = 1.0
PER_PASS = 8
MAX_BACKOFF_SECONDS = 60.0
#: Refusals after which a later attempt may succeed (a node behind or away).
TRANSIENT = frozenset({"unavailable", "syncing", "not_found", "starting"})


class TxProofs(Protocol):
    async def fetch_tx(self, tx_id: bytes) -> VerifiedTx: ...


class Submitter(Protocol):
    async def submit_tx(self, raw: bytes) -> bytes: ...

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int: ...


def wall_ms() -> int:
    return int(time.time() * 1000)


class UploadFinisher:
    """See the module docstring; ``window_ms`` is how long an upload may be resent."""

    def __init__(
        self,
        uploads: PendingUploads,
        proofs: TxProofs,
        submitter: Submitter,
        *,
        window_ms: int,
        clock_ms: Callable[[], int] = wall_ms,
        pass_seconds: float = PASS_SECONDS,
    ) -> None:
        self.uploads = uploads
        self._proofs = proofs
        self._submitter = submitter
        self._window_ms = window_ms
        self._clock_ms = clock_ms
        self._pass_seconds = pass_seconds
        self._busy: set[bytes] = set()
        #: record id -> (trio time it is due again, its current back-off)
        self._backoff: dict[bytes, tuple[float, float]] = {}
        #: record id -> trio time the edge last sent its transaction
        self._sent: dict[bytes, float] = {}

    def sent(self, record_id: bytes) -> None:
        """Note that the upload's transaction was just sent."""
        self._sent[record_id] = trio.current_time()

    def hold(self, record_id: bytes) -> None:
        """Keep the passes off an upload being sent (until :meth:`release` or :meth:`follow`)."""
        self._busy.add(record_id)

    def release(self, record_id: bytes) -> None:
        self._busy.discard(record_id)

    async def follow(self, record_id: bytes, timeout: float) -> None:
        """Step a new upload, held since it was sent, until it is done or ``timeout`` passes
        (then the passes of :meth:`run` go on with it)."""
        self._busy.add(record_id)
        try:
            with trio.move_on_after(timeout):
                while await self._attempt(record_id):
                    await trio.sleep(RETRY_SECONDS)
        finally:
            self._busy.discard(record_id)

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Resume open uploads, one bounded pass every ``pass_seconds``, until cancelled."""
        if self.uploads.open_count():
            logger.info("resuming %d unfinished uploads", self.uploads.open_count())
        task_status.started()
        while True:
            await self.resume_pass()
            await trio.sleep(self._pass_seconds)

    async def resume_pass(self) -> int:
        """Step up to :data:`PER_PASS` due open uploads; returns how many were stepped."""
        now = trio.current_time()
        due = [
            record_id for record_id in self.uploads.open_ids()
            if record_id not in self._busy and self._backoff.get(record_id, (0.0, 0.0))[0] <= now
        ][:PER_PASS]
        for record_id in due:
            self._busy.add(record_id)
            try:
                still_open = await self._attempt(record_id)
            finally:
                self._busy.discard(record_id)
            if still_open:
                _, delay = self._backoff.get(record_id, (0.0, RETRY_SECONDS))
                delay = min(2 * delay, MAX_BACKOFF_SECONDS)
                self._backoff[record_id] = (trio.current_time() + delay, delay)
        return len(due)

    async def _attempt(self, record_id: bytes) -> bool:
        """One step, any failure logged; True while the upload stays open."""
        upload = self.uploads.get(record_id)
        if upload is None or upload.done:
            self._drop(record_id)
            return False
        try:
            after = await self.step(upload)
        except Exception:  # one attempt's failure must not stop the edge; retried later
            logger.exception("upload step failed record=%s", record_id.hex()[:16])
            return True
        if after is None or after.done:
            self._drop(record_id)
            return False
        if after.state != upload.state:
            self._backoff.pop(record_id, None)
        return True

    def _drop(self, record_id: bytes) -> None:
        self._backoff.pop(record_id, None)
        self._sent.pop(record_id, None)

    async def step(self, upload: PendingUpload) -> PendingUpload | None:
        """One move of ``upload``; returns its new state (``None``: deleted)."""
        if upload.phase is UploadStatus.COMMITTED:
            return await self._hand_over(upload)
        try:
            height = (await self._proofs.fetch_tx(upload.tx_id)).verified.height
        except ItemNotFound:
            return await self._not_committed(upload)
        except ProofError as exc:
            logger.info("upload record=%s: commit unknown: %s", upload.record_id.hex()[:16], exc)
            return upload
        upload = self._move(upload, UploadStatus.COMMITTED, height=height)
        return await self._hand_over(upload)

    async def _not_committed(self, upload: PendingUpload) -> PendingUpload | None:
        old = self._clock_ms() - upload.submitted_at_ms > self._window_ms
        if upload.phase is UploadStatus.UNCONFIRMED:
            if old:
                logger.info("unconfirmed upload never committed record=%s; forgotten",
                            upload.record_id.hex()[:16])
                self.uploads.forget(upload.record_id)
                return None
            return upload
        if old:
            reason = "not committed within the freshness window"
            return self._move(upload, UploadStatus.FAILED, reason=reason)
        last = self._sent.get(upload.record_id)
        if last is not None and trio.current_time() - last < RESUBMIT_SECONDS:
            return upload
        try:
            self.sent(upload.record_id)
            await self._submitter.submit_tx(upload.tx)
            return upload
        except SubmitRefused as exc:
            if exc.code in TRANSIENT:
                return upload
            refusal = exc
        try:  # it may have committed meanwhile, which makes a resend a refused duplicate
            await self._proofs.fetch_tx(upload.tx_id)
        except ItemNotFound:
            return self._move(upload, UploadStatus.FAILED, reason=f"dropped: {refusal}")
        return upload  # committed or unknown: the next step finds out

    async def _hand_over(self, upload: PendingUpload) -> PendingUpload:
        try:
            stored = await self._submitter.store_fragments(upload.record_id, upload.fragments)
        except SubmitRefused as exc:
            if exc.code in TRANSIENT:
                return upload
            return self._move(upload, UploadStatus.FAILED, reason=str(exc))
        return self._move(upload, UploadStatus.STORED, fragments_stored=stored)

    def _move(self, upload: PendingUpload, status: UploadStatus, **changes: Any) -> PendingUpload:
        moved = self.uploads.move(upload, status, self._clock_ms(), **changes)
        log = logger.warning if status is UploadStatus.FAILED else logger.info
        log("device upload %s record=%s %s", moved.status,
            upload.record_id.hex()[:16], moved.reason)
        return moved
