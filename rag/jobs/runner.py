"""Corpus changes in the background: accepted at once, run one at a time, in order.

An upload is validated in its request (rag/corpus/uploads.py); `submit_add` then stages
it durably in the job folder before the request is answered `202`, and one worker thread
runs the jobs in arrival order through rag/documents/, which holds the index write lock
and journals the folder change. Searches and answers keep reading the live generation
meanwhile and move to the new one when it is published.

After a crash the next start finishes every unfinished job: the writer first resolves the
folder change the crash interrupted from its journal (rolled back, unless its generation
had gone live), then the job runs again from its staged upload. Adding the same upload
again is idempotent (`unchanged` when it had been published), and a removal whose article
is already gone is reported done.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO

from rag.config import Settings
from rag.corpus.uploads import Upload, prepare_upload
from rag.documents import AddResult, RemoveResult, add_documents, remove_documents
from rag.embedding import Embedder
from rag.errors import OverloadedError, RagError, UnknownDocumentError
from rag.index.generations import current_generation
from rag.jobs.store import Job, JobProgress, JobStore, now
from rag.storage import storage_errors

logger = logging.getLogger("rag.jobs")

Result = AddResult | RemoveResult
# Progress is written to the record at most this often (the runner's own copy is live).
SAVE_EVERY_SECONDS = 0.5


@dataclass
class _Queued:
    job: Job
    upload: Upload | None  # None after a restart: prepared again from the staged bytes
    claim: IO[bytes] | None
    resumed: bool = False
    future: Future[Result] = field(default_factory=Future)


class JobRunner:
    """One worker thread running corpus changes in order; `close` stops it after the
    current job (queued ones stay on disk and run at the next start)."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: JobStore,
        *,
        max_queued: int,
        on_published: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.max_queued = max_queued
        self.on_published = on_published
        self._queue: deque[_Queued] = deque()
        self._live: dict[str, Job] = {}  # this runner's unfinished jobs, freshest state
        self._cond = threading.Condition()
        self._stopping = False
        self._seconds = 5.0  # moving average of a job's run time, for Retry-After
        self._thread = threading.Thread(target=self._work, name="rag-jobs")

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Take over the unfinished jobs nobody owns (a crash's), then start working."""
        self.store.folder.mkdir(parents=True, exist_ok=True)
        for job in self.store.jobs():
            if job.finished:
                continue
            claim = self.store.claim(job.id)
            if claim is None:
                continue  # a live worker of this service owns it
            fresh = self.store.get(job.id)
            if fresh is None or fresh.finished:
                claim.close()
                continue
            logger.info("resuming %s job %s (%s)", fresh.kind, fresh.id, fresh.state)
            fresh.state = "queued"
            self._enqueue(_Queued(fresh, None, claim, resumed=True))
        self._thread.start()

    def close(self, wait: float) -> None:
        """Stop after the current job, waiting at most `wait` seconds for it."""
        with self._cond:
            self._stopping = True
            left = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for item in left:  # released: the next start (any worker) takes them over
            if item.claim is not None:
                item.claim.close()
            item.future.cancel()
        if self._thread.is_alive():
            self._thread.join(wait)

    # -- submitting and reading ------------------------------------------------------------

    def submit_add(self, upload: Upload) -> tuple[Job, Future[Result]]:
        """Stage `upload` durably and queue its job (OverloadedError when the queue is full)."""
        job = Job(kind="add", source=upload.name, metadata=dict(upload.metadata))
        return self._submit(job, upload)

    def submit_remove(self, doc_id: str, source: str, title: str) -> tuple[Job, Future[Result]]:
        """Queue the removal of an article (`source` and `title` as it is indexed now)."""
        return self._submit(Job(kind="remove", doc_id=doc_id, source=source, title=title), None)

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            job = self._live.get(job_id)
            if job is not None:
                return job.model_copy(deep=True)
        return self.store.get(job_id)

    def recent(self, limit: int) -> list[Job]:
        """The latest jobs, newest first (this runner's with their live progress)."""
        jobs = self.store.jobs()[-limit:]
        return [self.get(j.id) or j for j in reversed(jobs)]

    def _submit(self, job: Job, upload: Upload | None) -> tuple[Job, Future[Result]]:
        with self._cond:
            waiting = len(self._queue)
            if self._stopping:
                raise OverloadedError("the service is shutting down; retry later", retry_after=5)
            if waiting >= self.max_queued:
                retry = max(1, math.ceil(self._seconds * (waiting + 1)))
                raise OverloadedError(
                    f"busy: {waiting} corpus changes are waiting; retry later", retry_after=retry
                )
        claim = None
        try:
            with storage_errors(self.settings):  # a full disk is a 507 naming the folder
                claim = self.store.claim(job.id)
                if upload is not None:
                    self.store.stage(job.id, upload.data)
                self.store.save(job)
        except BaseException:
            self.store.forget(job.id, claim)
            raise
        item = _Queued(job, upload, claim)
        self._enqueue(item)
        return job.model_copy(deep=True), item.future

    def _enqueue(self, item: _Queued) -> None:
        with self._cond:
            self._live[item.job.id] = item.job
            self._queue.append(item)
            self._cond.notify_all()

    # -- the worker ------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                item = self._queue.popleft()
            self._run(item)

    def _run(self, item: _Queued) -> None:
        job = item.job
        started = time.monotonic()
        with self._cond:
            job.state, job.started_at = "running", now()
        self._record(job)
        error: Exception | None = None
        result: Result | None = None
        try:
            result = self._change(item, self._progress_of(job))
        except Exception as exc:  # a job's failure is news for its record, not the thread's end
            if not isinstance(exc, RagError):
                logger.exception("job %s failed", job.id)
            error = exc
        if error is None and self.on_published is not None:
            try:  # serve the new generation before the job is reported done
                self.on_published()
            except Exception:
                logger.exception("after job %s: the new index generation was not loaded", job.id)
        with self._cond:
            if error is None:
                job.state, job.result = "done", result
            else:
                job.state, job.error = "failed", str(error) or type(error).__name__
            job.finished_at = now()
            self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - started)
        self._record(job, item.claim)
        with self._cond:
            self._live.pop(job.id, None)
        if item.future.set_running_or_notify_cancel():
            if error is None:
                assert result is not None
                item.future.set_result(result)
            else:
                item.future.set_exception(error)

    def _record(self, job: Job, claim: IO[bytes] | None = None) -> None:
        """Save the job's record (finished: and drop its upload and lock). A folder that
        refuses the write (full disk) must not stop the worker: the job's own outcome
        reaches the waiting request anyway, and a stale record is resumed at restart."""
        try:
            if job.finished:
                self.store.finish(job, claim)
            else:
                self.store.save(job)
        except OSError as exc:
            logger.error("cannot save the record of job %s: %s", job.id, exc)

    def _progress_of(self, job: Job) -> Callable[[int, int], None]:
        saved = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal saved
            with self._cond:
                job.progress = JobProgress(done=done, total=total)
            if time.monotonic() - saved >= SAVE_EVERY_SECONDS or done == total:
                saved = time.monotonic()
                self._record(job)

        return progress

    def _change(self, item: _Queued, progress: Callable[[int, int], None]) -> Result:
        settings, embedder, job, upload = self.settings, self.embedder, item.job, item.upload
        if job.kind == "remove":
            try:
                return remove_documents(settings, embedder, [job.doc_id], progress=progress)[0]
            except UnknownDocumentError:
                if not item.resumed:
                    raise
                # Removed before the crash, its generation live: the job had succeeded.
                return RemoveResult(
                    doc_id=job.doc_id,
                    source=job.source,
                    title=job.title,
                    file_deleted=not (settings.source_dir / job.source).is_file(),
                    generation=current_generation(settings.index_dir).name,
                )
        if upload is None:  # resumed after a restart
            data = self.store.staged(job.id)
            if data is None:
                raise RagError("the staged upload is gone (the job folder was changed)")
            upload = prepare_upload(
                job.source,
                data,
                job.metadata or None,
                limit=settings.max_upload_bytes,
                unpacked_limit=settings.max_unpacked_bytes,
            )
        return add_documents(settings, embedder, [upload], progress=progress)[0]
