"""Chinese-aware chunking: whole sentences packed to a target size, with exact offsets.

Chunks never cross a section (and so never an article); the title and section heading
travel as fields so retrieval can use them while `chunk.text` stays an exact span:
`document.text[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.schemas import Chunk, Document

# A sentence ends at 。！？；… (or their ASCII forms), plus any closing quotes, or at a
# line break (paragraph end).
_SENTENCE = re.compile(r"[^\n。！？!?；;…]*(?:[。！？!?；;…]+[”’」』\"')）]*|\n|$)")
_CLAUSE = re.compile(r"[^,，、:：]*(?:[,，、:：]|$)")


@dataclass(frozen=True)
class ChunkingParams:
    size: int = 200
    max_chars: int = 400
    overlap: int = 1


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text[start:end], whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    for match in _SENTENCE.finditer(text, start, end):
        s, e = match.span()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def _split_long(text: str, span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at clause boundaries (or hard, as a last resort)."""
    s, e = span
    if e - s <= max_chars:
        return [span]
    pieces: list[tuple[int, int]] = []
    cur = s
    for match in _CLAUSE.finditer(text, s, e):
        if match.end() - cur > max_chars and match.start() > cur:
            pieces.append((cur, match.start()))
            cur = match.start()
        if not match.group():
            break
    pieces.append((cur, e))
    out: list[tuple[int, int]] = []
    for ps, pe in pieces:
        out.extend((i, min(i + max_chars, pe)) for i in range(ps, pe, max_chars))
    return out


def _pack(spans: list[tuple[int, int]], params: ChunkingParams) -> list[tuple[int, int]]:
    """Group consecutive sentences into windows near `size` chars, sharing `overlap`."""
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= params.size:
            j += 1
        windows.append((spans[i][0], spans[j][1]))
        if j + 1 >= len(spans):
            break
        i = max(j + 1 - params.overlap, i + 1)
    return windows


def chunk_document(document: Document, params: ChunkingParams) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in document.sections:
        spans: list[tuple[int, int]] = []
        for span in sentence_spans(document.text, section.start, section.end):
            spans.extend(_split_long(document.text, span, params.max_chars))
        for start, end in _pack(spans, params):
            chunks.append(
                Chunk(
                    chunk_id=f"{document.doc_id}:{len(chunks)}",
                    doc_id=document.doc_id,
                    source=document.source,
                    title=document.title,
                    section=section.title,
                    text=document.text[start:end],
                    start=start,
                    end=end,
                    page=document.page_at(start),
                )
            )
    return chunks


def chunk_documents(documents: list[Document], params: ChunkingParams) -> list[Chunk]:
    return [chunk for document in documents for chunk in chunk_document(document, params)]
