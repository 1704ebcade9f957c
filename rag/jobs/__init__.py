"""Corpus changes as background jobs (see runner.py)."""

from rag.jobs.runner import JobRunner
from rag.jobs.store import Job, JobProgress, JobStore

__all__ = ["Job", "JobProgress", "JobRunner", "JobStore"]
