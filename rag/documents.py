"""A growing corpus: add, replace, remove and list articles while the service runs.

The corpus folder (`settings.source_dir`) stays the source of truth, so `rag ingest`
always reproduces the index from it:

- an added file is written into the folder (a JSON upload becomes `# title\\n\\ntext` in a
  `.md` file); re-adding a source overwrites it, and identical bytes and metadata are a
  no-op ("unchanged");
- metadata set on upload, and articles removed out of multi-article files, are recorded
  in the folder's sidecar (`.rag-corpus.json`), which the reader applies and the corpus
  checksum covers; removing a file's last remaining article deletes the file.

Every writer (these changes, `rag ingest`, a stale index rebuilt at start-up) holds the
index's write lock across "resolve a change a crash interrupted, change the folder, build
a generation" (`build_index` reuses the live vectors, so only new passages are embedded):
two writers never interleave, in one process or several. If the build fails, the folder
is restored from the change's backup (rag/corpus/changes.py), so folder and index agree.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel

from rag.config import Settings
from rag.corpus import read_corpus
from rag.corpus.changes import FolderChange, recover_interrupted
from rag.corpus.files import corpus_checksum, load_sidecar, read_file
from rag.corpus.formats import ReadLimits
from rag.corpus.uploads import Upload
from rag.embedding import Embedder
from rag.errors import (
    CorpusError,
    IndexStateError,
    InvalidRequestError,
    UnknownDocumentError,
    UploadError,
)
from rag.index import BuildReport, IndexBundle, IndexConfig, Manifest, build_index, load_index
from rag.index.builder import Progress, passage_text, stale_reasons
from rag.index.chunks import ChunkStore
from rag.index.generations import current_generation, write_lock
from rag.schemas import Document, Section
from rag.storage import storage_errors

T = TypeVar("T")

# -- shapes ---------------------------------------------------------------------------------


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


# -- the write lock, recovery and the build --------------------------------------------------


def _live(index_dir: Path, read: Callable[[Path], T]) -> T | None:
    """`read` of the live generation; None without a readable one."""
    try:
        return read(current_generation(index_dir))
    except (IndexStateError, OSError, ValueError):
        return None


def _live_checksum(index_dir: Path) -> str | None:
    manifest = _live(index_dir, Manifest.load)
    return manifest.corpus_checksum if manifest is not None else None


@contextlib.contextmanager
def _writing(settings: Settings) -> Iterator[IndexConfig]:
    """Hold the write lock, with any change a crash interrupted resolved first. A full,
    read-only or unwritable folder is a StorageError naming it (rag/storage.py)."""
    config = IndexConfig.from_settings(settings)
    with storage_errors(settings):
        config.index_dir.mkdir(parents=True, exist_ok=True)
        with write_lock(config.index_dir):
            if config.source_dir.is_dir():
                recover_interrupted(config.source_dir, _live_checksum(config.index_dir))
            yield config


@contextlib.contextmanager
def _corpus_change(settings: Settings) -> Iterator[tuple[IndexConfig, FolderChange]]:
    """A folder change under the write lock; the folder is restored if the block fails."""
    if not Path(settings.source_dir).is_dir():
        raise CorpusError(f"source folder not found: {settings.source_dir}")
    with _writing(settings) as config:
        change = FolderChange(config.source_dir)
        try:
            yield config, change
        except BaseException:
            change.restore()
            raise
        change.discard()


def recover(settings: Settings) -> None:
    """Resolve a change a crash interrupted now (every writer does it first anyway)."""
    with _writing(settings):
        pass


def rebuild(settings: Settings, embedder: Embedder, *, progress: bool = False) -> BuildReport:
    """Build a new generation from the folder as it is (`rag ingest`)."""
    with _writing(settings) as config:
        return build_index(config, embedder, progress=progress)


def ensure_index(
    settings: Settings,
    embedder: Embedder,
    *,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> tuple[IndexBundle, BuildReport | None]:
    """The loaded index, built first when it is missing or stale; with the build's report
    (None when the index was up to date)."""
    say = log or (lambda message: print(message, file=sys.stderr))
    config = IndexConfig.from_settings(settings)
    try:
        bundle = load_index(config.index_dir, config.stores)
        reasons = stale_reasons(config, embedder, bundle.manifest)
        if not reasons:
            return bundle, None
        say(f"index is stale ({'; '.join(reasons)}): rebuilding")
    except IndexStateError as exc:
        say(f"{exc}; building the index")
    report = rebuild(settings, embedder, progress=progress)
    return load_index(config.index_dir, config.stores), report


def _index_is_current(config: IndexConfig) -> bool:
    return _live_checksum(config.index_dir) == corpus_checksum(config.source_dir)


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
    with _corpus_change(settings) as (config, change):
        folder = config.source_dir
        previous = _live(config.index_dir, ChunkStore.load)
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
        if change.changed or not _index_is_current(config):
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
    with _corpus_change(settings) as (config, change):
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
    if _index_is_current(config):
        store = _live(config.index_dir, ChunkStore.load)
        if store is not None:
            return {d.doc_id: d for d in store.documents}
    return {d.doc_id: d for d in read_corpus(config.source_dir, config.read_limits).documents}


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
