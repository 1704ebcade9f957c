"""Shapes shared by the library, the CLI's --json output and the API (defined once)."""

from __future__ import annotations

import bisect
from typing import Literal

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
    pages: list[int] = Field(
        default_factory=list, description="start offset of each page in `text` (PDF only)"
    )

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding `offset` (None for formats without pages)."""
        return bisect.bisect_right(self.pages, offset) if self.pages else None

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
    page: int | None = Field(default=None, description="1-based page of `start` (PDF only)")


class Hit(Chunk):
    """A chunk returned by retrieval, with its score (higher is better)."""

    score: float


class SearchResult(BaseModel):
    """What `rag search --json` prints and `GET /v1/search` returns."""

    query: str
    mode: str
    hits: list[Hit]


class Citation(Hit):
    """A passage cited in an answer as `[n]`."""

    n: int


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Answer(BaseModel):
    """What `rag ask --json` prints and `POST /v1/ask` returns."""

    question: str
    answer: str
    answerable: bool
    confidence: float | None = Field(
        default=None,
        description="the abstention model's probability that the passages answer the question",
    )
    citations: list[Citation] = Field(default_factory=list)
    unsupported_sentences: list[str] = Field(default_factory=list)
    llm: str
    fallback: bool = Field(default=False, description="True when the extractive fallback answered")
    notes: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    tokens: dict[str, int] = Field(
        default_factory=dict,
        description="prompt and completion tokens, when the model's server reports them",
    )
