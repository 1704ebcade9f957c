"""Plain text and markdown: the scraped pages the corpus began with (rag/corpus/articles.py)."""

from __future__ import annotations

from rag.corpus.articles import parse_articles
from rag.corpus.formats.base import ReadLimits, sniff
from rag.errors import CorpusError
from rag.schemas import Document


def decode_text(data: bytes, name: str) -> str:
    """Decode a source file's bytes, refusing what is not article text."""
    if not data.strip():
        raise CorpusError(f"{name}: file is empty")
    found = sniff(data)
    if found is not None:
        raise CorpusError(f"{name}: file looks binary (it holds {found}, not text)")
    if b"\x00" in data:
        raise CorpusError(f"{name}: file looks binary (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{name}: not valid UTF-8 (byte {exc.start}); convert it to UTF-8 first"
        ) from exc
    if not text.strip():
        raise CorpusError(f"{name}: file has no text")
    return text


def read_text(data: bytes, name: str, limits: ReadLimits) -> list[Document]:
    """A .txt/.md page: its articles, split and repaired like the scraped pages."""
    return parse_articles(decode_text(data, name), name)
