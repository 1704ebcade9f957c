"""Where the chunk vectors are searched: the `VectorStore` protocol and the store names.

Two stores implement it: FAISS in the process (`faiss_store.py`, the default) and a
shared Milvus collection (`milvus_store.py`). Retrieval only sees chunk ids and scores;
the chunk store, BM25 and manifest stay in the index generation folder either way (see
README, "Milvus"). `factory.py` chooses and opens one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

from rag.query import Filters
from rag.schemas import Chunk, Document

STORES: tuple[str, ...] = ("faiss", "milvus")


class VectorStore(Protocol):
    """Chunk vectors, searchable by inner product (vectors are normalized)."""

    name: str

    def add(self, chunks: list[Chunk], documents: list[Document], vectors: np.ndarray) -> None:
        """Store `chunks` (their documents give source, place, date) with their vectors."""
        ...

    def delete_documents(self, doc_ids: Iterable[str]) -> None:
        """Remove every chunk of these documents."""
        ...

    def search(
        self, query: np.ndarray, n: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Top-n (chunk_id, score), best first, among chunks whose document `filters` admits."""
        ...

    def count(self) -> int: ...
