"""Wire the configured parts together once: embedder, index, retriever, answerer, jobs.

The CLI and the API both start from `Services.start(settings)`; tests can build a
`Services` from parts of their own (an embedder of theirs reaches the job runner too).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.answering.pipeline import Answerer
from rag.config import Settings
from rag.documents import ensure_index
from rag.embedding import Embedder, build_embedder
from rag.errors import RagError
from rag.index import IndexBundle, IndexConfig, load_index
from rag.index.generations import POINTER, current_generation
from rag.jobs import JobRunner, JobStore
from rag.retrieval import Retriever

logger = logging.getLogger("rag.services")


@dataclass
class Services:
    settings: Settings
    embedder: Embedder
    bundle: IndexBundle
    retriever: Retriever
    answerer: Answerer

    @classmethod
    def start(
        cls, settings: Settings, *, build_if_needed: bool = True, progress: bool = False
    ) -> Services:
        embedder = build_embedder(settings)
        if build_if_needed:
            bundle, _ = ensure_index(settings, embedder, progress=progress)
        else:
            bundle = load_index(settings.index_dir, IndexConfig.from_settings(settings).stores)
        return cls.from_parts(settings, embedder, bundle)

    @classmethod
    def from_parts(cls, settings: Settings, embedder: Embedder, bundle: IndexBundle) -> Services:
        # Search-time knobs (IVF nprobe, HNSW efSearch) follow the settings, not the build.
        bundle.dense.configure(IndexConfig.from_settings(settings).dense)
        retriever = Retriever(
            bundle,
            embedder,
            candidates=settings.fusion_candidates,
            rrf_k=settings.rrf_k,
            cache_size=settings.query_cache_size,
            rerank=settings.rerank_candidates,
        )
        return cls(
            settings=settings,
            embedder=embedder,
            bundle=bundle,
            retriever=retriever,
            answerer=Answerer(settings, retriever),
        )


def start_jobs(services: Services, on_published: Callable[[], None] | None = None) -> JobRunner:
    """The background runner of corpus changes, with the jobs a crash left resumed;
    `on_published` is called after each job's generation went live."""
    settings = services.settings
    folder = settings.jobs_dir or Path(settings.index_dir) / "jobs"
    runner = JobRunner(
        settings,
        services.embedder,
        JobStore(folder, kept=settings.jobs_kept),
        max_queued=settings.max_queued_writes,
        on_published=on_published,
    )
    runner.start()
    return runner


class IndexFollower:
    """Keeps a running service on the live index generation, whoever published it.

    `current(services)` is called once per request: at most every `interval` seconds it
    stats `index/CURRENT` (a cheap `os.stat`); when another process (the CLI, another
    worker) has published a generation, the requesting thread loads it completely and
    only then swaps in `Services.from_parts(settings, embedder, bundle)` (the embedder is
    reused). Requests arriving while it loads keep the old services; a request holds one
    `Services` reference throughout, so it sees the old index or the new one, never a mix.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._checked = 0.0
        self._seen: tuple[int, int, int] | None = None

    @staticmethod
    def _follows(services: Services) -> bool:
        """Only a bundle loaded from the configured index folder is followed."""
        index_dir = Path(services.settings.index_dir).resolve()
        return services.bundle.folder.parent.resolve() == index_dir

    def current(self, holder: object, attr: str = "services") -> Services:
        """The services to use for this request (`getattr(holder, attr)`, maybe refreshed)."""
        services: Services = getattr(holder, attr)
        now = time.monotonic()
        if self.interval <= 0 or now - self._checked < self.interval:
            return services
        if not self._lock.acquire(blocking=False):
            return services  # another request is loading the new generation
        try:
            self._checked = now
            if not self._follows(services):
                return services
            pointer = Path(services.settings.index_dir) / POINTER
            try:
                stat = os.stat(pointer)
            except OSError:
                return services
            seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if seen == self._seen:
                return services
            fresh = self._reload(services)
            self._seen = seen
            if fresh is not services:
                setattr(holder, attr, fresh)
            return fresh
        finally:
            self._lock.release()

    def reload_now(self, holder: object, attr: str = "services") -> Services:
        """Load the live generation now (after this process changed the index)."""
        with self._lock:
            services: Services = getattr(holder, attr)
            fresh = self._reload(services)
            if fresh is not services:
                setattr(holder, attr, fresh)
            return fresh

    @staticmethod
    def _reload(services: Services) -> Services:
        index_dir = Path(services.settings.index_dir)
        try:
            if current_generation(index_dir).name == services.bundle.folder.name:
                return services
            stores = IndexConfig.from_settings(services.settings).stores
            bundle = load_index(index_dir, stores, services.bundle)
        except RagError as exc:
            logger.warning("keeping index %s: %s", services.bundle.folder.name, exc)
            return services
        logger.info("index generation %s loaded", bundle.folder.name)
        return Services.from_parts(services.settings, services.embedder, bundle)
