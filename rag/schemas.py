"""Shapes shared by the library, the CLI's --json output and the API (defined once)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Section(BaseModel):
    """A titled span of a document's text; `text[start:end]` is the section body."""

    title: str
    start: int
    end: int


class Document(BaseModel):
    """One article read from a source file."""

    doc_id: str
    source: str
    title: str
    subtitle: str = ""
    text: str
    sections: list[Section] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)

    def section_at(self, offset: int) -> Section | None:
        """The section whose span holds `offset` (None for text before the first one)."""
        for section in self.sections:
            if section.start <= offset < section.end:
                return section
        return None


class Chunk(BaseModel):
    """A retrievable passage: an exact span of its document's text, plus its context."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    section: str
    text: str
    start: int
    end: int


class Hit(Chunk):
    """A chunk returned by retrieval, with its score (higher is better)."""

    score: float


class SearchResult(BaseModel):
    """What `rag search --json` prints and `GET /v1/search` returns."""

    query: str
    mode: str
    hits: list[Hit]
