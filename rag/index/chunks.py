"""Documents and chunks, addressable by id and by row (the row is the vector id)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag.query import Filters
from rag.schemas import Chunk, Document


def rows_by_document(chunks: list[Chunk]) -> dict[str, np.ndarray]:
    """Each document's chunk rows: a filter admits documents, and searches need rows."""
    rows: dict[str, list[int]] = {}
    for row, chunk in enumerate(chunks):
        rows.setdefault(chunk.doc_id, []).append(row)
    return {doc_id: np.asarray(r, dtype=np.int64) for doc_id, r in rows.items()}


def rows_of(rows: dict[str, np.ndarray], doc_ids: Iterable[str]) -> np.ndarray:
    """The sorted rows of these documents (empty if none has chunks)."""
    parts = [rows[d] for d in doc_ids if d in rows]
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def admitted_rows(
    rows: dict[str, np.ndarray], documents: Iterable[Document], filters: Filters | None
) -> np.ndarray | None:
    """The rows of the documents `filters` admits; None (every row) without filters.

    Filters select documents and searches need rows: the per-document row table makes
    this proportional to the documents, not to the chunks.
    """
    if filters is None or filters.is_empty():
        return None
    return rows_of(rows, (d.doc_id for d in documents if filters.admits(d)))


class ChunkStore:
    def __init__(self, documents: list[Document], chunks: list[Chunk]) -> None:
        self.documents = documents
        self.chunks = chunks
        self._docs_by_id = {d.doc_id: d for d in documents}
        self._rows = rows_by_document(chunks)

    def __len__(self) -> int:
        return len(self.chunks)

    def document(self, doc_id: str) -> Document | None:
        return self._docs_by_id.get(doc_id)

    def chunk_count(self, doc_id: str) -> int:
        return len(self._rows.get(doc_id, ()))

    def admitted_rows(self, filters: Filters | None) -> np.ndarray | None:
        return admitted_rows(self._rows, self.documents, filters)

    def save(self, folder: Path) -> None:
        _write_jsonl(folder / "documents.jsonl", (d.model_dump() for d in self.documents))
        _write_jsonl(folder / "chunks.jsonl", (c.model_dump() for c in self.chunks))

    @classmethod
    def load(cls, folder: Path) -> ChunkStore:
        documents = [
            Document.model_validate_json(line) for line in _lines(folder / "documents.jsonl")
        ]
        chunks = [Chunk.model_validate_json(line) for line in _lines(folder / "chunks.jsonl")]
        return cls(documents, chunks)


def _write_jsonl(path: Path, rows) -> None:  # noqa: ANN001 - any iterable of dicts
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
