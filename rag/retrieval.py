"""Dense, BM25 and hybrid retrieval over a loaded index, with filters."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from rag.config import SearchMode
from rag.embedding import Embedder
from rag.errors import InvalidRequestError
from rag.index import IndexBundle
from rag.schemas import Hit

MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")


class Filters(BaseModel):
    """Restrict retrieval before ranking. Unknown fields are an error, never ignored."""

    model_config = ConfigDict(extra="forbid")

    source: list[str] | None = None
    doc_id: list[str] | None = None

    @field_validator("source", "doc_id", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def is_empty(self) -> bool:
        return not (self.source or self.doc_id)


class _LRU:
    """A small thread-safe cache of query vectors: repeated questions skip the model."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: np.ndarray) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


class Retriever:
    """Ranks chunks for a query; safe to share between threads (read-only index)."""

    def __init__(
        self,
        bundle: IndexBundle,
        embedder: Embedder,
        *,
        candidates: int = 50,
        rrf_k: int = 60,
        cache_size: int = 1024,
    ) -> None:
        self.bundle = bundle
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._cache = _LRU(cache_size)
        self._embed_lock = threading.Lock()

    def embed_query(self, query: str) -> np.ndarray:
        vector = self._cache.get(query)
        if vector is None:
            # The native embedders are not re-entrant; queries are ~20 ms, so serialize.
            with self._embed_lock:
                vector = self.embedder.embed_queries([query])[0]
            self._cache.put(query, vector)
        return vector

    def allowed_rows(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or filters.is_empty():
            return None
        sources = set(filters.source or [])
        doc_ids = set(filters.doc_id or [])
        rows = [
            i
            for i, chunk in enumerate(self.bundle.store.chunks)
            if (not sources or chunk.source in sources) and (not doc_ids or chunk.doc_id in doc_ids)
        ]
        return np.asarray(rows, dtype=np.int64)

    def ranked(
        self, query: str, mode: SearchMode, n: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """(row, score) pairs, best first."""
        if mode not in MODES:
            raise InvalidRequestError(
                f"unknown search mode '{mode}': use one of {', '.join(MODES)}"
            )
        allowed = self.allowed_rows(filters)
        if mode == "dense":
            scores, rows = self.bundle.dense.search(self.embed_query(query), n, allowed)
            return list(zip(rows.tolist(), scores.tolist(), strict=True))
        if mode == "bm25":
            scores, rows = self.bundle.lexical.search(query, n, allowed)
            return list(zip(rows.tolist(), scores.tolist(), strict=True))
        pool = max(self.candidates, n)
        _, dense_rows = self.bundle.dense.search(self.embed_query(query), pool, allowed)
        _, lexical_rows = self.bundle.lexical.search(query, pool, allowed)
        return reciprocal_rank_fusion([dense_rows.tolist(), lexical_rows.tolist()], self.rrf_k)[:n]

    def search(
        self,
        query: str,
        k: int = 5,
        mode: SearchMode = "hybrid",
        filters: Filters | None = None,
    ) -> list[Hit]:
        chunks = self.bundle.store.chunks
        return [
            Hit(**chunks[row].model_dump(), score=round(float(score), 6))
            for row, score in self.ranked(query, mode, k, filters)
        ]


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse rankings by summing 1/(k + rank); robust to the two scores' different scales."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
