"""Where the chunk vectors are searched: FAISS in the process (default) or a Milvus collection.

Both implement `VectorStore`: add chunks with their vectors, delete by document, search
with filters, count. Retrieval only sees chunk ids and scores; the chunk store, BM25 and
manifest stay in the index generation folder either way (see README, "Milvus").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.index.dense import DenseIndex
from rag.index.store import rows_by_document, rows_of
from rag.schemas import Chunk, Document

if TYPE_CHECKING:
    from rag.retrieval import Filters

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


class FaissStore:
    """The in-process store: a `DenseIndex` whose row i is `chunks[i]`.

    Persistence is the index generation (builder.py writes `dense.faiss` beside the chunk
    store); `add` and `delete_documents` change this in-memory copy only.
    """

    name = "faiss"

    def __init__(
        self,
        dense: DenseIndex,
        chunks: list[Chunk],
        documents: list[Document],
    ) -> None:
        self.dense = dense
        self.chunks = list(chunks)
        self.documents = {d.doc_id: d for d in documents}
        self._rows = rows_by_document(self.chunks)

    def add(self, chunks: list[Chunk], documents: list[Document], vectors: np.ndarray) -> None:
        self.documents.update({d.doc_id: d for d in documents})
        self.dense.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.chunks.extend(chunks)
        self._rows = rows_by_document(self.chunks)

    def delete_documents(self, doc_ids: Iterable[str]) -> None:
        gone = set(doc_ids)
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in gone]
        vectors = self.dense.index.reconstruct_n(0, len(self.dense))[keep]
        # Rebuilt rather than `remove_ids`: HNSW cannot remove, and rows must stay dense.
        self.dense = DenseIndex.build(vectors.reshape(len(keep), -1), self.dense.params)
        self.chunks = [self.chunks[i] for i in keep]
        for doc_id in gone:
            self.documents.pop(doc_id, None)
        self._rows = rows_by_document(self.chunks)

    def search(
        self, query: np.ndarray, n: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        allowed = None
        if filters is not None and not filters.is_empty():
            allowed = rows_of(
                self._rows, (d for d, doc in self.documents.items() if filters.admits(doc))
            )
        scores, rows = self.dense.search(query, n, allowed)
        return [(self.chunks[r].chunk_id, float(s)) for r, s in zip(rows, scores, strict=True)]

    def count(self) -> int:
        return len(self.dense)
