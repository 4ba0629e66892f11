"""Carrying the edge's uploads from submitted to stored, now and after a restart.

Every open upload of :class:`~node.edge.pending_uploads.PendingUploads` is moved by
:meth:`UploadFinisher.step`, one attempt at a time:

* ``submitted``: if a proven fetch of its transaction succeeds it is ``committed``. Otherwise
  the edge resends the same signed bytes (same tx id), at most every :data:`RESUBMIT_SECONDS`,
  and goes by the answer: ``ok`` (a node took it, or already holds it pending or committed:
  ``duplicate``) or a transient refusal keeps it waiting; a definite refusal (the tx can never
  commit: a stale epoch, its record id taken by another tx), with no proof of a commit, makes
  it ``failed`` with the reason. A "not found" from the nodes asked decides nothing (the node
  that holds it may be the one that did not answer), and neither does age: the ledger does not
  refuse an old PutRecord and the nodes keep pending items without age limit, so an upload is
  never given up for being old. One open longer than :data:`STUCK_WARN_MS` is logged as a
  warning at each check; the open uploads are bounded by the ingest's ``MAX_IN_FLIGHT``.
* ``unconfirmed`` (the edge answered 503): only watched within the freshness window
  (``window_ms``); after it, resent once as above to learn its fate: taken, it is
  ``submitted`` again; refused for good (and not committed), it is deleted, since nothing
  happened.
* ``committed``: the fragments are handed over
  (:meth:`~node.edge.submit.EdgeSubmitter.store_fragments`); then ``stored``. A refusal
  other than ``unavailable``/``syncing``/``not_found``/``starting`` makes it ``failed``.

Each write of a step is compare-and-set: it happens only if the stored upload is still the one
the step read before its awaits (same state, times and tx); else the step is dropped. So a
device's retry saved meanwhile is never overwritten or deleted by a stale step.

:meth:`UploadFinisher.follow` steps a new upload every :data:`RETRY_SECONDS` until it is done
or its commit timeout passes; :meth:`UploadFinisher.run` (started with the edge) steps the
others not held (:meth:`UploadFinisher.busy`), at most :data:`PER_PASS` per pass, each with its
own doubling back-off up to :data:`MAX_BACKOFF_SECONDS`. A failure of one attempt (nodes away,
a store error, a bug) is logged and retried later; it never stops the edge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import trio

from node.edge.pending_uploads import Changed, PendingUpload, PendingUploads, UploadStatus
from node.edge.proofs import ItemNotFound, ProofError, VerifiedTx
from node.edge.submit import SubmitRefused

logger = logging.getLogger("iomtshare.node.edge.uploads")

RETRY_SECONDS = 0.5
RESUBMIT_SECONDS = 10.0
PASS_SECONDS = 1.0
PER_PASS = 8
MAX_BACKOFF_SECONDS = 60.0
#: An upload open this long is logged as a warning at each check (it is still never dropped).
STUCK_WARN_MS = 3_600_000
#: Refusals after which a later attempt may succeed (a node behind, away or busy).
TRANSIENT = frozenset({"unavailable", "syncing", "not_found", "starting", "busy"})


class TxProofs(Protocol):
    async def fetch_tx(self, tx_id: bytes) -> VerifiedTx: ...


class Submitter(Protocol):
    async def submit_tx(self, raw: bytes) -> bytes: ...

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int: ...


def wall_ms() -> int:
    return int(time.time() * 1000)


class UploadFinisher:
    """See the module docstring; ``window_ms`` is how long an unconfirmed upload is only
    watched."""

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
        #: record id -> how many holders keep the passes off it
        self._busy: dict[bytes, int] = {}
        #: record id -> (trio time it is due again, its current back-off)
        self._backoff: dict[bytes, tuple[float, float]] = {}
        #: record id -> trio time the edge last sent its transaction
        self._sent: dict[bytes, float] = {}

    def sent(self, record_id: bytes) -> None:
        """Note that the upload's transaction was just sent."""
        self._sent[record_id] = trio.current_time()

    def discard(self, record_id: bytes) -> None:
        """Forget what this finisher notes about an upload that will not be finished."""
        self._drop(record_id)

    def hold(self, record_id: bytes) -> None:
        """Keep the passes off an upload (until a matching :meth:`release`, or the end of the
        :meth:`follow` that takes the hold over). Holds are counted: one holder's release
        leaves the others' in place."""
        self._busy[record_id] = self._busy.get(record_id, 0) + 1

    def release(self, record_id: bytes) -> None:
        count = self._busy.get(record_id, 0) - 1
        if count > 0:
            self._busy[record_id] = count
        else:
            self._busy.pop(record_id, None)

    def busy(self, record_id: bytes) -> bool:
        """Whether a task of this edge is stepping or sending the upload now."""
        return record_id in self._busy

    async def follow(self, record_id: bytes, timeout: float) -> None:
        """Step a new upload, held (:meth:`hold`) since it was sent, until it is done or
        ``timeout`` passes, then release that hold (the passes of :meth:`run` go on with it)."""
        try:
            with trio.move_on_after(timeout):
                while await self._attempt(record_id):
                    await trio.sleep(RETRY_SECONDS)
        finally:
            self.release(record_id)

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Resume open uploads, one bounded pass every ``pass_seconds``, until cancelled."""
        if self.uploads.open_count():
            logger.info("resuming %d unfinished uploads", self.uploads.open_count())
        task_status.started()
        while True:
            await self.resume_pass()
            await trio.sleep(self._pass_seconds)

    async def resume_pass(self) -> int:
        """Step up to :data:`PER_PASS` due open uploads not held; returns how many were
        stepped."""
        now = trio.current_time()
        due = [
            record_id for record_id in self.uploads.open_ids()
            if not self.busy(record_id) and self._backoff.get(record_id, (0.0, 0.0))[0] <= now
        ][:PER_PASS]
        stepped = 0
        for record_id in due:
            if self.busy(record_id):  # taken by a device's retry while an earlier one stepped
                continue
            stepped += 1
            self.hold(record_id)
            try:
                still_open = await self._attempt(record_id)
            finally:
                self.release(record_id)
            if still_open:
                _, delay = self._backoff.get(record_id, (0.0, RETRY_SECONDS))
                delay = min(2 * delay, MAX_BACKOFF_SECONDS)
                self._backoff[record_id] = (trio.current_time() + delay, delay)
        return stepped

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
        """One move of ``upload``; returns its new state (``None``: deleted). If the stored
        upload changed during the step's awaits, nothing is written and the stored one is
        returned."""
        try:
            return await self._step(upload)
        except Changed:
            logger.info("upload record=%s changed meanwhile; step dropped",
                        upload.record_id.hex()[:16])
            return self.uploads.get(upload.record_id)

    async def _step(self, upload: PendingUpload) -> PendingUpload | None:
        if upload.phase is UploadStatus.COMMITTED:
            return await self._hand_over(upload)
        try:
            height = (await self._proofs.fetch_tx(upload.tx_id)).verified.height
        except ItemNotFound:  # from the nodes that answered; one that did not may hold it
            return await self._not_committed(upload)
        except ProofError as exc:
            logger.info("upload record=%s: commit unknown: %s", upload.record_id.hex()[:16], exc)
            return upload
        upload = await self._move(upload, UploadStatus.COMMITTED, height=height)
        return await self._hand_over(upload)

    async def _not_committed(self, upload: PendingUpload) -> PendingUpload | None:
        age_ms = self._clock_ms() - upload.submitted_at_ms
        unconfirmed = upload.phase is UploadStatus.UNCONFIRMED
        if unconfirmed and age_ms <= self._window_ms:
            return upload  # the device was answered 503: only watched for now
        last = self._sent.get(upload.record_id)
        if last is not None and trio.current_time() - last < RESUBMIT_SECONDS:
            return upload
        if age_ms > STUCK_WARN_MS:
            logger.warning("upload record=%s open for %d s, not committed; still waiting for "
                           "the nodes' answer", upload.record_id.hex()[:16], age_ms // 1000)
        body = await self.uploads.body(upload.record_id)
        if body is None:
            return await self._lost(upload)
        try:
            self.sent(upload.record_id)
            await self._submitter.submit_tx(body[0])
        except SubmitRefused as exc:
            if exc.code in TRANSIENT:
                return upload
            refusal = exc
        else:  # a node holds it (pending or committed): wait for the commit
            if unconfirmed:
                return await self._move(upload, UploadStatus.SUBMITTED, reason="")
            return upload
        try:  # a refusal is definite only while no proof of a commit turns up
            await self._proofs.fetch_tx(upload.tx_id)
        except ItemNotFound:
            if unconfirmed:
                await self.uploads.forget(upload.record_id, expect=upload)
                logger.info("unconfirmed upload refused record=%s: %s; forgotten",
                            upload.record_id.hex()[:16], refusal)
                return None
            return await self._move(upload, UploadStatus.FAILED, reason=f"dropped: {refusal}")
        except ProofError:
            pass
        return upload  # committed or unknown: the next step finds out

    async def _hand_over(self, upload: PendingUpload) -> PendingUpload:
        body = await self.uploads.body(upload.record_id)
        if body is None:
            return await self._lost(upload)
        try:
            stored = await self._submitter.store_fragments(upload.record_id, body[1])
        except SubmitRefused as exc:
            if exc.code in TRANSIENT:
                return upload
            return await self._move(upload, UploadStatus.FAILED, reason=str(exc))
        return await self._move(upload, UploadStatus.STORED, fragments_stored=stored)

    async def _lost(self, upload: PendingUpload) -> PendingUpload:
        reason = "its transaction and fragments are missing from the edge's store"
        return await self._move(upload, UploadStatus.FAILED, reason=reason)

    async def _move(self, upload: PendingUpload, status: UploadStatus,
                    **changes: Any) -> PendingUpload:
        """Write the move unless the stored upload changed since ``upload`` was read
        (:class:`~node.edge.pending_uploads.Changed`)."""
        moved = await self.uploads.move(upload, status, self._clock_ms(), compare=True,
                                        **changes)
        log = logger.warning if status is UploadStatus.FAILED else logger.info
        log("device upload %s record=%s %s", moved.status,
            upload.record_id.hex()[:16], moved.reason)
        return moved
