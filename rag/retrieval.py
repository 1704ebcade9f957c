"""Dense, BM25 and hybrid retrieval over a loaded index, with filters."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from rag.config import SearchMode
from rag.embedding import Embedder
from rag.errors import InvalidRequestError
from rag.index import IndexBundle
from rag.schemas import Document, Hit

MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")


_ISO_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")


class Filters(BaseModel):
    """Restrict retrieval before ranking. Unknown fields are an error, never ignored.

    Dates are ISO prefixes (2021, 2021-06, 2021-06-30) compared with the article's stated
    date; an article dated only "2021" matches any filter touching that year.
    """

    model_config = ConfigDict(extra="forbid")

    source: list[str] | None = None
    doc_id: list[str] | None = None
    place: list[str] | None = None
    since: str | None = None
    until: str | None = None

    @field_validator("source", "doc_id", "place", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("since", "until")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None and not _ISO_DATE.match(value):
            raise ValueError(f"'{value}' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")
        return value

    def is_empty(self) -> bool:
        return not (self.source or self.doc_id or self.place or self.since or self.until)

    def admits(self, document: Document) -> bool:
        meta = document.metadata
        if self.source and document.source not in self.source:
            return False
        if self.doc_id and document.doc_id not in self.doc_id:
            return False
        if self.place and not any(p in meta.get("place", "") for p in self.place):
            return False
        date = meta.get("date", "")
        if (self.since or self.until) and not date:
            return False
        # Compare on the shorter precision: "2021" is on or after "2021-06".
        if self.since and date < self.since[: len(date)]:
            return False
        return not (self.until and date[: len(self.until)] > self.until)


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


def check_query(text: str, limit: int, what: str = "query") -> str:
    """The stripped query, or a clear 4xx-bound error: empty, too long, or no words at all
    (control characters or punctuation alone would otherwise be "answered")."""
    text = text.strip()
    if not text:
        raise InvalidRequestError(f"the {what} is empty")
    if len(text) > limit:
        raise InvalidRequestError(
            f"the {what} is {len(text)} characters long; the limit is {limit}"
        )
    if not any(ch.isalnum() for ch in text):
        raise InvalidRequestError(f"the {what} has no letters or digits")
    return text


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
        self._rows = {chunk.chunk_id: i for i, chunk in enumerate(bundle.store.chunks)}

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
        store = self.bundle.store
        return store.rows_of(d.doc_id for d in store.documents if filters.admits(d))

    def ranked(
        self, query: str, mode: SearchMode, n: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """(row, score) pairs, best first."""
        if mode not in MODES:
            raise InvalidRequestError(
                f"unknown search mode '{mode}': use one of {', '.join(MODES)}"
            )
        if mode == "dense":
            return self.dense(query, n, filters)
        allowed = self.allowed_rows(filters)
        if mode == "bm25":
            scores, rows = self.bundle.lexical.search(query, n, allowed)
            return list(zip(rows.tolist(), scores.tolist(), strict=True))
        pool = max(self.candidates, n)
        dense_rows = [row for row, _ in self.dense(query, pool, filters)]
        _, lexical_rows = self.bundle.lexical.search(query, pool, allowed)
        return reciprocal_rank_fusion([dense_rows, lexical_rows.tolist()], self.rrf_k)[:n]

    def dense(self, query: str, n: int, filters: Filters | None) -> list[tuple[int, float]]:
        """(row, score) from the vector store (FAISS or Milvus, which filters itself).

        A chunk the loaded generation does not know yet (written to a shared Milvus
        collection by another process a moment ago) is skipped until the reload.
        """
        found = self.bundle.vectors.search(self.embed_query(query), n, filters)
        return [(self._rows[c], s) for c, s in found if c in self._rows]

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
