"""Find and read source files; a bad file is reported by name and skipped, never fatal."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from rag.corpus.extracted import Extraction, extract, parse_cached
from rag.corpus.formats import SUFFIXES, ReadLimits, decode_text
from rag.errors import CorpusError, UploadError
from rag.schemas import Document

__all__ = ["SUFFIXES", "decode_text", "parse_cached"]

# Beside the files: metadata set on upload and articles removed from multi-article files
# (`rag add --metadata`, `rag remove`), applied by the reader and part of the checksum.
SIDECAR = ".rag-corpus.json"


@dataclass
class CorpusReport:
    """What reading a folder produced: the articles, and the files skipped with reasons."""

    documents: list[Document] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    extractions: list[Extraction] = field(default_factory=list)  # of the files read


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
    sidecar = folder / SIDECAR
    if sidecar.is_file():
        digest.update(SIDECAR.encode() + b"\0" + sidecar.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass
class CorpusSidecar:
    """What the files alone do not say: per-article metadata and removed articles."""

    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.metadata or self.removed)

    def to_json(self) -> dict:
        return {"metadata": self.metadata, "removed": sorted(set(self.removed))}


def load_sidecar(folder: Path) -> CorpusSidecar:
    path = folder / SIDECAR
    if not path.is_file():
        return CorpusSidecar()
    try:
        data = json.loads(path.read_text("utf-8"))
        metadata = {
            str(doc_id): {str(k): str(v) for k, v in fields.items()}
            for doc_id, fields in (data.get("metadata") or {}).items()
        }
        removed = [str(doc_id) for doc_id in data.get("removed") or []]
    except (OSError, ValueError, AttributeError) as exc:
        raise CorpusError(f"{path}: unreadable corpus sidecar ({exc}); fix or delete it") from exc
    return CorpusSidecar(metadata=metadata, removed=removed)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` durably: a synced temporary file renamed over it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def save_sidecar(folder: Path, sidecar: CorpusSidecar) -> None:
    """Write the sidecar atomically (removed when it records nothing)."""
    path = folder / SIDECAR
    if sidecar.is_empty():
        if path.exists():
            path.unlink()
            fsync_dir(folder)
        return
    text = json.dumps(sidecar.to_json(), ensure_ascii=False, indent=2, sort_keys=True)
    write_atomic(path, (text + "\n").encode("utf-8"))


def read_file(path: Path, limits: ReadLimits | None = None) -> Extraction:
    """One corpus file's extraction (CorpusError or UploadError when it is unreadable)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path.name}: cannot read ({exc.strerror})") from exc
    return extract(data, path.name, limits)


def read_corpus(folder: Path, limits: ReadLimits | None = None) -> CorpusReport:
    """Read every supported file of `folder` into articles (the sidecar applied)."""
    report = CorpusReport()
    sidecar = load_sidecar(folder)
    removed = set(sidecar.removed)
    for path in source_files(folder):
        try:
            extraction = read_file(path, limits)
        except (CorpusError, UploadError) as exc:
            report.skipped[path.name] = str(exc)
            continue
        report.extractions.append(extraction)
        documents = [d.model_copy(deep=True) for d in extraction.documents]
        if not documents:
            report.skipped[path.name] = f"{path.name}: no article text found"
            continue
        documents = [d for d in documents if d.doc_id not in removed]
        if not documents:
            report.skipped[path.name] = f"{path.name}: every article was removed"
            continue
        for document in documents:
            document.metadata.update(sidecar.metadata.get(document.doc_id, {}))
        report.files.append(path.name)
        report.documents.extend(documents)
    return report
