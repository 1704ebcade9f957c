"""Extracted articles remembered by content hash: in memory, and saved with each index
generation so that a rebuild in another process does not read unchanged files again.

Reading a PDF or tagging an article's metadata is slow, and every corpus update re-reads
the whole folder: only new or changed files are read. An extraction is the reader's
output for the file's bytes (before the sidecar); a reader that changes what it extracts
must bump the index FORMAT_VERSION, so saved extractions from older code are not reused.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path

from cachetools import LRUCache
from pydantic import BaseModel

from rag.corpus.formats import ReadLimits, read_bytes
from rag.schemas import Document

FILE = "extracted.jsonl"


class Extraction(BaseModel):
    """One file's articles as its reader made them, keyed by name, digest and limits."""

    name: str
    digest: str
    max_unpacked_bytes: int
    documents: list[Document]

    def key(self) -> tuple[str, str, ReadLimits]:
        return self.digest, self.name, ReadLimits(max_unpacked_bytes=self.max_unpacked_bytes)


_CACHE: LRUCache[tuple[str, str, ReadLimits], Extraction] = LRUCache(4096)
_LOCK = threading.Lock()


def extract(data: bytes, name: str, limits: ReadLimits | None = None) -> Extraction:
    """The file's extraction, read only if these bytes were not read before.

    Raises CorpusError or UploadError (UnreadableFileError, UnpackTooLargeError). The
    result is shared: copy its documents before changing them.
    """
    limits = limits or ReadLimits()
    key = (hashlib.sha256(data).hexdigest(), name, limits)
    with _LOCK:
        found = _CACHE.get(key)
    if found is None:
        found = Extraction(
            name=name,
            digest=key[0],
            max_unpacked_bytes=limits.max_unpacked_bytes,
            documents=read_bytes(data, name, limits),
        )
        with _LOCK:
            _CACHE[key] = found
    return found


def parse_cached(data: bytes, name: str, limits: ReadLimits | None = None) -> list[Document]:
    """The articles of a file's bytes (any supported format), copies the caller may change."""
    return [d.model_copy(deep=True) for d in extract(data, name, limits).documents]


def remember(extractions: Iterable[Extraction]) -> None:
    """Seed the cache with extractions saved by an earlier build."""
    with _LOCK:
        for extraction in extractions:
            _CACHE[extraction.key()] = extraction


def save_extractions(folder: Path, extractions: Iterable[Extraction]) -> None:
    with (folder / FILE).open("w", encoding="utf-8") as f:
        for extraction in extractions:
            f.write(extraction.model_dump_json() + "\n")


def load_extractions(folder: Path) -> list[Extraction]:
    """The extractions saved in an index generation ([] for one from before they were)."""
    path = folder / FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Extraction.model_validate_json(line) for line in lines if line.strip()]
