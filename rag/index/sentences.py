"""Sentence vectors: what the answer step compares a question with, one sentence at a time.

A passage is ranked as a whole, but an answer quotes sentences, and a paraphrased or
English question matches the right sentence far better by meaning than by shared words.
Every sentence of every chunk is embedded once at ingest (passage mode), stored beside the
chunk vectors and reused by text on rebuilds, so answering embeds nothing but the query.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from pathlib import Path

import numpy as np

from rag.chunking import sentence_spans
from rag.schemas import Chunk

MIN_SENTENCE_CHARS = 6  # shorter ones ("图1", "。") are never quoted as answers


def chunk_sentences(chunk: Chunk) -> list[tuple[int, int]]:
    """The sentences of a chunk as (start, end) offsets into its document's text."""
    return [
        (chunk.start + s, chunk.start + e)
        for s, e in sentence_spans(chunk.text, 0, len(chunk.text))
        if e - s >= MIN_SENTENCE_CHARS
    ]


class SentenceIndex:
    """Unit vectors of sentences, addressed by (doc_id, start offset)."""

    VECTORS = "sentences.npy"
    KEYS = "sentences.json"

    def __init__(self, keys: list[tuple[str, int, int]], vectors: np.ndarray) -> None:
        self.keys = keys
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._rows = {(doc_id, start): row for row, (doc_id, start, _) in enumerate(keys)}

    def __len__(self) -> int:
        return len(self.keys)

    @staticmethod
    def collect(chunks: list[Chunk]) -> tuple[list[tuple[str, int, int]], list[str]]:
        """Each distinct sentence of `chunks` (overlapping chunks share some) and its text."""
        seen: dict[tuple[str, int, int], str] = {}
        for chunk in chunks:
            for start, end in chunk_sentences(chunk):
                key = (chunk.doc_id, start, end)
                if key not in seen:
                    seen[key] = chunk.text[start - chunk.start : end - chunk.start]
        return list(seen), list(seen.values())

    def rows_by_chunk(self, chunks: list[Chunk]) -> list[np.ndarray]:
        """For each chunk (in order), the rows of the sentences it holds."""
        by_doc: dict[str, list[tuple[int, int]]] = {}
        for row, (doc_id, start, _) in enumerate(self.keys):
            by_doc.setdefault(doc_id, []).append((start, row))
        starts: dict[str, list[int]] = {}
        for doc_id, pairs in by_doc.items():
            pairs.sort()
            starts[doc_id] = [start for start, _ in pairs]
        found = []
        for c in chunks:  # a binary search per chunk, not a scan of its document
            pairs = by_doc.get(c.doc_id, [])
            keys = starts.get(c.doc_id, [])
            lo, hi = bisect_left(keys, c.start), bisect_left(keys, c.end)
            found.append(np.asarray([row for _, row in pairs[lo:hi]], dtype=np.int64))
        return found

    def vector(self, doc_id: str, start: int) -> np.ndarray | None:
        row = self._rows.get((doc_id, start))
        return None if row is None else self.vectors[row]

    def by_text(self, chunks: list[Chunk]) -> dict[str, np.ndarray]:
        """Vectors by sentence text, for a rebuild to reuse (`chunks`: this generation's)."""
        keys, texts = self.collect(chunks)
        found = {}
        for (doc_id, start, _), text in zip(keys, texts, strict=True):
            vector = self.vector(doc_id, start)
            if vector is not None:
                found[text] = vector
        return found

    def save(self, folder: Path) -> None:
        np.save(folder / self.VECTORS, self.vectors)
        (folder / self.KEYS).write_text(json.dumps(self.keys, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> SentenceIndex:
        keys = [tuple(k) for k in json.loads((folder / cls.KEYS).read_text("utf-8"))]
        vectors = np.load(folder / cls.VECTORS)
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} sentence keys for {len(vectors)} vectors")
        return cls(keys, vectors)  # type: ignore[arg-type]
