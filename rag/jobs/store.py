"""Job records on disk: what a job is, where it stands, and the upload it stages.

Records are files (`<id>.json`, rewritten atomically) so that every worker of
`rag serve --workers N` answers `GET /v1/jobs/{id}` and a restart finds unfinished jobs;
an add job's upload waits beside its record (`<id>.upload`) until the job ends. A runner
holds an flock on `<id>.lock` for each job it owns: a starting worker takes over only the
jobs whose owner is gone (the kernel drops a dead process's locks).
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, Field, ValidationError

from rag.corpus.files import write_atomic
from rag.documents import AddResult, RemoveResult

JobState = Literal["queued", "running", "done", "failed"]
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def now() -> datetime:
    return datetime.now(UTC)


class JobProgress(BaseModel):
    """Texts embedded so far out of those the build must embed (chunks, then sentences)."""

    done: int = 0
    total: int = 0


class Job(BaseModel):
    """One corpus change: adding an uploaded file, or removing an article."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: Literal["add", "remove"]
    state: JobState = "queued"
    source: str = ""  # the corpus file's name
    doc_id: str = ""  # remove: the article
    title: str = ""  # remove: the article's
    metadata: dict[str, str] = Field(default_factory=dict)  # add: as uploaded
    progress: JobProgress = Field(default_factory=JobProgress)
    result: AddResult | RemoveResult | None = None
    error: str | None = None  # failed: why
    created_at: datetime = Field(default_factory=now)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class JobStore:
    """The job folder: records, staged uploads, ownership locks."""

    def __init__(self, folder: Path, kept: int) -> None:
        self.folder = Path(folder)
        self.kept = kept

    def _file(self, job_id: str, suffix: str) -> Path:
        return self.folder / f"{job_id}{suffix}"

    def save(self, job: Job) -> None:
        write_atomic(self._file(job.id, ".json"), job.model_dump_json().encode())

    def stage(self, job_id: str, data: bytes) -> None:
        write_atomic(self._file(job_id, ".upload"), data)

    def staged(self, job_id: str) -> bytes | None:
        try:
            return self._file(job_id, ".upload").read_bytes()
        except OSError:
            return None

    def get(self, job_id: str) -> Job | None:
        if not _JOB_ID.match(job_id):
            return None
        try:
            return Job.model_validate_json(self._file(job_id, ".json").read_bytes())
        except (OSError, ValidationError):
            return None

    def jobs(self) -> list[Job]:
        """Every readable record, oldest first."""
        found = (self.get(path.stem) for path in self.folder.glob("*.json"))
        return sorted((job for job in found if job is not None), key=lambda j: j.created_at)

    def claim(self, job_id: str) -> IO[bytes] | None:
        """An open, locked handle owning the job; None if another runner owns it."""
        handle = self._file(job_id, ".lock").open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle

    def forget(self, job_id: str, claim: IO[bytes] | None) -> None:
        """Drop what a job that could not be accepted left behind."""
        for suffix in (".json", ".upload", ".lock"):
            with contextlib.suppress(OSError):
                self._file(job_id, suffix).unlink(missing_ok=True)
        if claim is not None:
            claim.close()

    def finish(self, job: Job, claim: IO[bytes] | None) -> None:
        """Save a finished job, drop its upload and lock, and prune old records."""
        try:
            self.save(job)
        except OSError:  # the record still says unfinished: keep its upload for a restart
            if claim is not None:
                claim.close()
            raise
        self._file(job.id, ".upload").unlink(missing_ok=True)
        if claim is not None:
            self._file(job.id, ".lock").unlink(missing_ok=True)
            claim.close()
        finished = [j for j in self.jobs() if j.finished]
        for old in finished[: max(0, len(finished) - self.kept)]:
            with contextlib.suppress(OSError):
                self._file(old.id, ".json").unlink()
