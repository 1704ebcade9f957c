"""The in-process vector store: FAISS, persisted as the generation's `dense.faiss`."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rag.index.chunks import admitted_rows, rows_by_document
from rag.index.dense import DenseIndex
from rag.query import Filters
from rag.schemas import Chunk, Document


class FaissStore:
    """A `VectorStore` over a `DenseIndex` whose row i is `chunks[i]`.

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
        self.dense.add(vectors)
        self.chunks.extend(chunks)
        self._rows = rows_by_document(self.chunks)

    def delete_documents(self, doc_ids: Iterable[str]) -> None:
        gone = set(doc_ids)
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in gone]
        vectors = self.dense.vectors()[keep]
        # Rebuilt rather than `remove_ids`: HNSW cannot remove, and rows must stay dense.
        self.dense = DenseIndex.build(vectors, self.dense.params)
        self.chunks = [self.chunks[i] for i in keep]
        for doc_id in gone:
            self.documents.pop(doc_id, None)
        self._rows = rows_by_document(self.chunks)

    def search(
        self, query: np.ndarray, n: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        allowed = admitted_rows(self._rows, self.documents.values(), filters)
        scores, rows = self.dense.search(query, n, allowed)
        return [(self.chunks[r].chunk_id, float(s)) for r, s in zip(rows, scores, strict=True)]

    def count(self) -> int:
        return len(self.dense)
