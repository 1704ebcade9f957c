"""Add, replace and remove articles: the folder changed and a generation built, all or
nothing (if the build fails, the folder is restored from the change's backup and the
live index kept; rag/corpus/changes.py)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from rag.config import Settings
from rag.corpus import read_corpus
from rag.corpus.files import load_sidecar, read_file
from rag.corpus.formats import ReadLimits
from rag.corpus.uploads import Upload
from rag.documents.writer import corpus_change, index_is_current, live
from rag.embedding import Embedder
from rag.errors import CorpusError, InvalidRequestError, UnknownDocumentError, UploadError
from rag.index import IndexConfig, build_index
from rag.index.builder import Progress
from rag.index.chunks import ChunkStore
from rag.index.generations import current_generation
from rag.index.vectors import passage_text
from rag.schemas import Document


class AddedDocument(BaseModel):
    doc_id: str
    source: str
    title: str
    chunks: int


class AddResult(BaseModel):
    """One added file: its articles, and how many of their chunks had to be embedded."""

    status: Literal["added", "replaced", "unchanged"]
    source: str
    documents: list[AddedDocument]
    embedded: int = 0
    seconds: float = 0.0
    generation: str = ""


class RemoveResult(BaseModel):
    status: Literal["removed"] = "removed"
    doc_id: str
    source: str
    title: str
    file_deleted: bool
    seconds: float = 0.0
    generation: str = ""


def _doc_ids_of_file(path: Path, limits: ReadLimits) -> list[str]:
    """The ids of the articles a corpus file holds now ([] if it is missing or unreadable)."""
    if not path.is_file():
        return []
    try:
        return [d.doc_id for d in read_file(path, limits).documents]
    except (CorpusError, UploadError):
        return []


# -- operations -----------------------------------------------------------------------------


def add_documents(
    settings: Settings,
    embedder: Embedder,
    uploads: list[Upload],
    *,
    progress: Progress | None = None,
) -> list[AddResult]:
    """Write `uploads` into the corpus folder and publish a new index generation.

    All or nothing: if the build fails, the folder is restored and the live index kept.
    `progress` is told (done, total) texts embedded (a job's progress, `rag add`'s bar).
    """
    names = [u.name for u in uploads]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UploadError(f"more than one upload is named {', '.join(duplicates)}")
    started = time.perf_counter()
    statuses: dict[str, str] = {}
    with corpus_change(settings) as (config, change):
        folder = config.source_dir
        previous = live(config.index_dir, ChunkStore.load)
        sidecar = load_sidecar(folder)
        wanted = copy.deepcopy(sidecar)
        for upload in uploads:
            path = folder / upload.name
            old_bytes = path.read_bytes() if path.is_file() else None
            new_ids = [d.doc_id for d in upload.documents]
            stale_ids = set(_doc_ids_of_file(path, config.read_limits)) | set(new_ids)
            # The upload describes its source completely: earlier metadata and removals
            # of the source's articles give way to it.
            wanted.removed = [i for i in wanted.removed if i not in stale_ids]
            for doc_id in stale_ids:
                wanted.metadata.pop(doc_id, None)
            if upload.metadata:
                for doc_id in new_ids:
                    wanted.metadata[doc_id] = dict(upload.metadata)
            same_entries = all(
                sidecar.metadata.get(i) == wanted.metadata.get(i)
                and (i in sidecar.removed) == (i in wanted.removed)
                for i in stale_ids
            )
            if old_bytes == upload.data and same_entries:
                statuses[upload.name] = "unchanged"
                continue
            statuses[upload.name] = "replaced" if old_bytes is not None else "added"
            if old_bytes != upload.data:
                change.write(upload.name, upload.data)
        if wanted.to_json() != sidecar.to_json():
            change.save_sidecar(wanted)
        if change.changed or not index_is_current(config):
            build_index(config, embedder, on_progress=progress)
    known = {passage_text(c) for c in previous.chunks} if previous is not None else set()
    return _add_results(config, uploads, statuses, known, time.perf_counter() - started)


def _add_results(
    config: IndexConfig,
    uploads: list[Upload],
    statuses: dict[str, str],
    known: set[str],
    seconds: float,
) -> list[AddResult]:
    generation = current_generation(config.index_dir)
    store = ChunkStore.load(generation)
    results = []
    for upload in uploads:
        docs = [d for d in store.documents if d.source == upload.name]
        ids = {d.doc_id for d in docs}
        chunks = [c for c in store.chunks if c.doc_id in ids]
        results.append(
            AddResult(
                status=statuses[upload.name],  # type: ignore[arg-type]
                source=upload.name,
                documents=[
                    AddedDocument(
                        doc_id=d.doc_id,
                        source=d.source,
                        title=d.title,
                        chunks=store.chunk_count(d.doc_id),
                    )
                    for d in docs
                ],
                embedded=len({passage_text(c) for c in chunks} - known),
                seconds=round(seconds, 3),
                generation=generation.name,
            )
        )
    return results


def remove_documents(
    settings: Settings,
    embedder: Embedder,
    doc_ids: list[str],
    *,
    progress: Progress | None = None,
) -> list[RemoveResult]:
    """Remove articles by id and publish a new generation (all or nothing).

    A file whose last remaining article goes is deleted; otherwise the removal is
    recorded in the sidecar.
    """
    started = time.perf_counter()
    wanted_ids = list(dict.fromkeys(doc_ids))
    with corpus_change(settings) as (config, change):
        folder = config.source_dir
        documents = _folder_documents(config)
        unknown = [i for i in wanted_ids if i not in documents]
        if unknown:
            raise UnknownDocumentError(
                f"no document with id {', '.join(repr(i) for i in unknown)}: see `rag list`"
            )
        if len(documents) == len(wanted_ids):
            raise InvalidRequestError("cannot remove every article: the index would be empty")
        sidecar = load_sidecar(folder)
        wanted = copy.deepcopy(sidecar)
        by_source: dict[str, list[str]] = {}
        for doc_id in wanted_ids:
            by_source.setdefault(documents[doc_id].source, []).append(doc_id)
        deleted: set[str] = set()
        for source, ids in by_source.items():
            in_file = _doc_ids_of_file(folder / source, config.read_limits)
            remaining = [i for i in in_file if i not in wanted.removed and i not in ids]
            if remaining:
                wanted.removed.extend(ids)
                for doc_id in ids:
                    wanted.metadata.pop(doc_id, None)
                continue
            change.delete(source)
            deleted.add(source)
            wanted.removed = [i for i in wanted.removed if i not in in_file]
            for doc_id in in_file:
                wanted.metadata.pop(doc_id, None)
        if wanted.to_json() != sidecar.to_json():
            change.save_sidecar(wanted)
        build_index(config, embedder, on_progress=progress)
    generation = current_generation(config.index_dir).name
    seconds = round(time.perf_counter() - started, 3)
    return [
        RemoveResult(
            doc_id=doc_id,
            source=documents[doc_id].source,
            title=documents[doc_id].title,
            file_deleted=documents[doc_id].source in deleted,
            seconds=seconds,
            generation=generation,
        )
        for doc_id in wanted_ids
    ]


def _folder_documents(config: IndexConfig) -> dict[str, Document]:
    """The articles the folder holds now, by id: the live index's when it is up to date
    (no re-reading), else read from the folder."""
    if index_is_current(config):
        store = live(config.index_dir, ChunkStore.load)
        if store is not None:
            return {d.doc_id: d for d in store.documents}
    return {d.doc_id: d for d in read_corpus(config.source_dir, config.read_limits).documents}
