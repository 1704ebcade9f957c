"""Find and decode source files; a bad file is reported by name and skipped, never fatal."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rag.corpus.articles import parse_articles
from rag.errors import CorpusError
from rag.schemas import Document

SUFFIXES = (".txt", ".md")


@dataclass
class CorpusReport:
    """What reading a folder produced: the articles, and the files skipped with reasons."""

    documents: list[Document] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def decode_text(data: bytes, name: str) -> str:
    """Decode a source file's bytes, refusing what is not article text."""
    if not data.strip():
        raise CorpusError(f"{name}: file is empty")
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


def read_text_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path.name}: cannot read ({exc.strerror})") from exc
    return decode_text(data, path.name)


def source_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise CorpusError(f"source folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def corpus_checksum(folder: Path) -> str:
    """A digest of every source file's name and bytes: changes when the corpus does."""
    digest = hashlib.sha256()
    for path in source_files(folder):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def read_corpus(folder: Path) -> CorpusReport:
    """Read every .txt/.md file of `folder` into articles."""
    report = CorpusReport()
    for path in source_files(folder):
        try:
            documents = parse_articles(read_text_file(path), path.name)
        except CorpusError as exc:
            report.skipped[path.name] = str(exc)
            continue
        if not documents:
            report.skipped[path.name] = f"{path.name}: no article text found"
            continue
        report.files.append(path.name)
        report.documents.extend(documents)
    return report
