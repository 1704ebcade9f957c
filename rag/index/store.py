"""Documents and chunks, addressable by id and by row (the row is the vector id)."""

from __future__ import annotations

import json
from pathlib import Path

from rag.schemas import Chunk, Document


class ChunkStore:
    def __init__(self, documents: list[Document], chunks: list[Chunk]) -> None:
        self.documents = documents
        self.chunks = chunks
        self._docs_by_id = {d.doc_id: d for d in documents}
        self._chunk_counts: dict[str, int] = {}
        for chunk in chunks:
            self._chunk_counts[chunk.doc_id] = self._chunk_counts.get(chunk.doc_id, 0) + 1

    def __len__(self) -> int:
        return len(self.chunks)

    def document(self, doc_id: str) -> Document | None:
        return self._docs_by_id.get(doc_id)

    def chunk_count(self, doc_id: str) -> int:
        return self._chunk_counts.get(doc_id, 0)

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
