"""One lock around an embedder: the native models are not re-entrant.

The service embeds queries on request threads while an index update (a background job)
embeds passages with the same model, so every call goes through this wrapper
(`build_embedder` returns it). Queries go first: a batch of passages waits while a query
is waiting, so a question waits at most for the batch in progress, never for a whole job
(a plain lock is not fair: the job's thread would take it again batch after batch).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from rag.embedding.base import Embedder


class LockedEmbedder:
    """An `Embedder` whose calls run one at a time, queries before passages."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self._turn = threading.Condition()
        self._busy = False
        self._queries_waiting = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._one_at_a_time(self.inner.embed_queries, texts, query=True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._one_at_a_time(self.inner.embed_passages, texts, query=False)

    def _one_at_a_time(
        self, embed: Callable[[list[str]], np.ndarray], texts: list[str], *, query: bool
    ) -> np.ndarray:
        with self._turn:
            self._queries_waiting += query
            try:
                self._turn.wait_for(lambda: not self._busy and (query or not self._queries_waiting))
            finally:
                self._queries_waiting -= query
            self._busy = True
        try:
            return embed(texts)
        finally:
            with self._turn:
                self._busy = False
                self._turn.notify_all()
