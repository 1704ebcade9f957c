"""`GET /v1/jobs/{id}` and `GET /v1/jobs`: corpus changes running in the background."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from rag.api.deps import JobsDep
from rag.api.schemas import JobsResponse
from rag.jobs import Job

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get("/jobs/{job_id}", responses={404: {"description": "no such job"}})
def get_job(job_id: str, jobs: JobsDep) -> Job:
    """queued, running (with `progress`: texts embedded of those to embed), done (with
    `result`) or failed (with `error`)."""
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job with id '{job_id}': see GET /v1/jobs")
    return job


@router.get("/jobs")
def recent_jobs(
    jobs: JobsDep, limit: Annotated[int, Query(ge=1, le=100, description="how many")] = 20
) -> JobsResponse:
    """The latest jobs, newest first."""
    return JobsResponse(jobs=jobs.recent(limit))
