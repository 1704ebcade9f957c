"""The indexed articles as `rag list` and `GET /v1/documents` show them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from rag.index.chunks import ChunkStore
from rag.index.generations import current_generation
from rag.schemas import Section


class DocumentSummary(BaseModel):
    """An indexed article as `rag list` and `GET /v1/documents` show it."""

    doc_id: str
    source: str
    title: str
    place: str = ""
    date: str = ""
    sections: list[Section]
    chars: int
    chunks: int


def live_chunks(index_dir: Path) -> ChunkStore:
    """The chunk store of the live generation (`rag list` reads only this)."""
    return ChunkStore.load(current_generation(Path(index_dir)))


def list_documents(store: ChunkStore) -> list[DocumentSummary]:
    """The indexed articles, with their stated place and date."""
    return [
        DocumentSummary(
            doc_id=d.doc_id,
            source=d.source,
            title=d.title,
            place=d.metadata.get("place", ""),
            date=d.metadata.get("date", ""),
            sections=d.sections,
            chars=len(d.text),
            chunks=store.chunk_count(d.doc_id),
        )
        for d in store.documents
    ]
