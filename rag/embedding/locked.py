"""One lock around an embedder: the native models are not re-entrant.

The service embeds queries on request threads while an index update embeds passages with
the same model, so every call goes through this wrapper (`build_embedder` returns it).
"""

from __future__ import annotations

import threading

import numpy as np

from rag.embedding.base import Embedder


class LockedEmbedder:
    """An `Embedder` whose calls run one at a time (queries are ~20 ms: waiting is cheap)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self.inner.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self.inner.embed_passages(texts)
