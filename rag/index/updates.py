"""A growing corpus: add, replace and remove articles while the service runs.

The corpus folder (`settings.source_dir`) stays the source of truth, so `rag ingest`
always reproduces the index from it:

- an added file is written into the folder (a JSON upload becomes `# title\\n\\ntext` in a
  `.md` file); re-adding a source overwrites it, and identical bytes and metadata are a
  no-op ("unchanged");
- metadata set on upload, and articles removed out of multi-article files, are recorded
  in the folder's sidecar (`.rag-corpus.json`), which the reader applies and the corpus
  checksum covers; removing a file's last remaining article deletes the file.

Each change holds the index's write lock across "change the folder + build a generation"
(`build_index`, which reuses the live vectors, so only new passages are embedded): two
writers never interleave, in one process or several. Files about to be overwritten or
deleted, and the sidecar, are copied into a hidden backup folder first; if anything fails
before the new generation is live, the folder is restored from it, so folder and index
stay consistent. A backup left by a crash is resolved by the next change (kept if the
live index already reflects the folder, otherwise restored).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import time
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel

from rag.config import Settings
from rag.corpus.files import (
    SIDECAR,
    SUFFIXES,
    CorpusSidecar,
    corpus_checksum,
    decode_text,
    fsync_dir,
    load_sidecar,
    parse_cached,
    save_sidecar,
    write_atomic,
)
from rag.embedding import Embedder
from rag.errors import CorpusError, IndexStateError, InvalidRequestError
from rag.index.builder import build_index, passage_text
from rag.index.manifest import Manifest
from rag.index.storage import current_generation, write_lock
from rag.index.store import ChunkStore
from rag.schemas import Document

BACKUP_PREFIX = ".rag-backup-"
JOURNAL = "journal.json"
MAX_NAME_CHARS = 120
MAX_METADATA_FIELDS = 20
MAX_METADATA_CHARS = 200

_ISO_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
_METADATA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
_UNSAFE_CHARS = re.compile(r"[^\w.\-]+")


class UploadError(InvalidRequestError):
    """An upload that cannot become a corpus file (type, encoding, name, metadata): 422."""


class UploadTooLargeError(UploadError):
    """An upload over `max_upload_bytes`: 413."""


class UnknownDocumentError(InvalidRequestError):
    """No article with that id: 404."""


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


class ListedDocument(BaseModel):
    doc_id: str
    source: str
    title: str
    place: str = ""
    date: str = ""
    chunks: int


@dataclass
class Upload:
    """A validated file to add: a safe name, its bytes, its articles, optional metadata."""

    name: str
    data: bytes
    documents: list[Document]
    metadata: dict[str, str] = field(default_factory=dict)


# -- validating uploads ---------------------------------------------------------------------


def _shown(raw: str) -> str:
    return repr(raw[:80] + ("…" if len(raw) > 80 else ""))


def safe_name(raw: str) -> str:
    """A plain base name for a corpus file, or UploadError.

    Directories are dropped (`../../x.md`, `/abs/x.md`, `C:\\\\x.md` -> `x.md`), control
    characters (NUL) and anything but letters, digits, `.`, `-`, `_` become `_`, leading
    dots are stripped (no hidden files), and only `.txt`/`.md` are accepted.
    """
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/")
    name = PurePosixPath("x/" + name).name if not name.endswith("/") else ""
    name = "".join("_" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in name)
    name = _UNSAFE_CHARS.sub("_", name).strip("._- ")
    name = re.sub(r"_{2,}", "_", name)
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix.lower()
    if not stem.strip("._-") or not suffix:
        if suffix or not stem:
            raise UploadError(f"file name {_shown(raw)} has no usable name")
        raise UploadError(
            f"file name {_shown(raw)} has no extension: only .txt and .md files are accepted"
        )
    if suffix not in SUFFIXES:
        raise UploadError(
            f"file name {_shown(raw)}: '{suffix}' files are not accepted, only .txt and .md"
        )
    stem = stem[: MAX_NAME_CHARS - len(suffix)].rstrip("._-")
    return stem + suffix


def check_metadata(metadata: object) -> dict[str, str]:
    """Upload metadata: a flat object of short strings; `date` must be ISO (YYYY[-MM[-DD]])."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise UploadError('metadata must be a JSON object of strings, e.g. {"place": "桂阳县"}')
    if len(metadata) > MAX_METADATA_FIELDS:
        raise UploadError(
            f"metadata has {len(metadata)} fields; the limit is {MAX_METADATA_FIELDS}"
        )
    clean: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_KEY.match(key):
            raise UploadError(f"metadata key {_shown(str(key))} must be a short ASCII identifier")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise UploadError(f"metadata.{key} must be a string")
        value = value.strip()
        if len(value) > MAX_METADATA_CHARS:
            raise UploadError(f"metadata.{key} is longer than {MAX_METADATA_CHARS} characters")
        if key == "date" and value and not _ISO_DATE.match(value):
            raise UploadError(
                f"metadata.date '{value}' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD"
            )
        if value:
            clean[key] = value
    return clean


def parse_metadata_pairs(pairs: list[str]) -> dict[str, str]:
    """`["place=桂阳县", "date=2023-05"]` (the CLI's --metadata) -> a checked dict."""
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UploadError(f"--metadata '{pair}' is not key=value")
        metadata[key.strip()] = value
    return check_metadata(metadata)


def _check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise UploadTooLargeError(
            f"{name}: {size} bytes is over the upload limit of {limit} bytes "
            f"({limit / 1_048_576:.1f} MB)"
        )


def prepare_upload(raw_name: str, data: bytes, metadata: object = None, *, limit: int) -> Upload:
    """Validate a file upload: size, name, UTF-8 text, at least one article."""
    name = safe_name(raw_name)
    _check_size(name, len(data), limit)
    metadata = check_metadata(metadata)
    try:
        text = decode_text(data, name)
    except CorpusError as exc:
        raise UploadError(str(exc)) from exc
    documents = parse_cached(text, name)
    if not documents:
        raise UploadError(f"{name}: no article text found (only headings, bylines or captions)")
    return Upload(name=name, data=data, documents=documents, metadata=metadata)


def prepare_json_upload(
    title: str, text: str, source: str | None = None, metadata: object = None, *, limit: int
) -> Upload:
    """A JSON upload becomes the UTF-8 markdown file `# title\\n\\ntext` (named by `source`,
    or after the title), so the folder alone still reproduces the index."""
    title = " ".join((title or "").split())
    if not title:
        raise UploadError("title is empty")
    if not (text or "").strip():
        raise UploadError("text is empty")
    if source and source.strip():
        raw_name = source
        if not PurePosixPath(raw_name.replace("\\", "/")).suffix:
            raw_name += ".md"
    else:  # named after the title, which may hold dots or slashes ("1.5万人", "图/文")
        raw_name = re.sub(r"[\\/.]", "_", title) + ".md"
    data = f"# {title}\n\n{text.strip()}\n".encode()
    _check_size(safe_name(raw_name), len(data), limit)
    return prepare_upload(raw_name, data, metadata, limit=limit)


# -- the transaction: change the folder and build, or neither --------------------------------


class _FolderChange:
    """Changes to the corpus folder, each preceded by a backup of what it replaces."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.backup = folder / f"{BACKUP_PREFIX}{uuid.uuid4().hex[:8]}"
        self.journal: dict[str, bool] = {}  # name -> existed before the change
        self.changed = False

    def _path(self, name: str) -> Path:
        path = self.folder / name
        if path.parent.resolve() != self.folder.resolve() or path.name != name:
            raise UploadError(f"file name {_shown(name)} escapes the corpus folder")
        return path

    def _save(self, name: str) -> None:
        if name in self.journal:
            return
        path = self._path(name)
        self.backup.mkdir(exist_ok=True)
        existed = path.is_file()
        if existed:
            shutil.copy2(path, self.backup / name)
            with (self.backup / name).open("rb") as f:
                os.fsync(f.fileno())
        self.journal[name] = existed
        write_atomic(self.backup / JOURNAL, json.dumps(self.journal).encode())

    def write(self, name: str, data: bytes) -> None:
        self._save(name)
        self.changed = True
        write_atomic(self._path(name), data)

    def delete(self, name: str) -> None:
        self._save(name)
        self.changed = True
        self._path(name).unlink(missing_ok=True)
        fsync_dir(self.folder)

    def save_sidecar(self, sidecar: CorpusSidecar) -> None:
        self._save(SIDECAR)
        self.changed = True
        save_sidecar(self.folder, sidecar)

    def restore(self) -> None:
        restore_backup(self.folder, self.backup)

    def discard(self) -> None:
        shutil.rmtree(self.backup, ignore_errors=True)


def restore_backup(folder: Path, backup: Path) -> None:
    """Put back every file a failed change touched (as its journal lists them)."""
    try:
        journal = json.loads((backup / JOURNAL).read_text("utf-8"))
    except (OSError, ValueError):
        journal = {}  # the change had not touched the folder yet
    for name, existed in journal.items():
        target = folder / PurePosixPath(name).name
        if existed:
            with contextlib.suppress(FileNotFoundError):
                (target.parent / f".{target.name}.restore").unlink()
            shutil.copy2(backup / name, target.parent / f".{target.name}.restore")
            os.replace(target.parent / f".{target.name}.restore", target)
        else:
            target.unlink(missing_ok=True)
    fsync_dir(folder)
    shutil.rmtree(backup, ignore_errors=True)


def _live_manifest(index_dir: Path) -> Manifest | None:
    try:
        return Manifest.load(current_generation(index_dir))
    except (IndexStateError, OSError, ValueError):
        return None


def recover_interrupted(settings: Settings) -> None:
    """Resolve backups left by a change that crashed (call with the write lock held)."""
    folder = Path(settings.source_dir)
    leftovers = sorted(p for p in folder.glob(f"{BACKUP_PREFIX}*") if p.is_dir())
    for backup in leftovers:
        manifest = _live_manifest(Path(settings.index_dir))
        indexed = manifest is not None and manifest.corpus_checksum == corpus_checksum(folder)
        if indexed:
            shutil.rmtree(backup, ignore_errors=True)
        else:
            restore_backup(folder, backup)


@contextlib.contextmanager
def corpus_change(settings: Settings) -> Iterator[_FolderChange]:
    """Hold the write lock; yield a folder change; restore the folder if the block fails."""
    folder = Path(settings.source_dir)
    if not folder.is_dir():
        raise CorpusError(f"source folder not found: {folder}")
    index_dir = Path(settings.index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with write_lock(index_dir):
        recover_interrupted(settings)
        change = _FolderChange(folder)
        try:
            yield change
        except BaseException:
            change.restore()
            raise
        change.discard()


def _index_is_current(settings: Settings) -> bool:
    manifest = _live_manifest(Path(settings.index_dir))
    return manifest is not None and manifest.corpus_checksum == corpus_checksum(
        Path(settings.source_dir)
    )


def _live_store(index_dir: Path) -> ChunkStore | None:
    try:
        return ChunkStore.load(current_generation(index_dir))
    except (IndexStateError, OSError, ValueError):
        return None


def _doc_ids_of_file(path: Path) -> list[str]:
    """The ids of the articles a corpus file holds now ([] if it is missing or unreadable)."""
    if not path.is_file():
        return []
    try:
        return [
            d.doc_id for d in parse_cached(decode_text(path.read_bytes(), path.name), path.name)
        ]
    except CorpusError:
        return []


# -- operations -----------------------------------------------------------------------------


def add_documents(settings: Settings, embedder: Embedder, uploads: list[Upload]) -> list[AddResult]:
    """Write `uploads` into the corpus folder and publish a new index generation.

    All or nothing: if the build fails, the folder is restored and the live index kept.
    """
    names = [u.name for u in uploads]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UploadError(f"more than one upload is named {', '.join(duplicates)}")
    started = time.perf_counter()
    folder = Path(settings.source_dir)
    statuses: dict[str, str] = {}
    with corpus_change(settings) as change:
        previous = _live_store(Path(settings.index_dir))
        sidecar = load_sidecar(folder)
        wanted = copy.deepcopy(sidecar)
        for upload in uploads:
            path = folder / upload.name
            old_bytes = path.read_bytes() if path.is_file() else None
            new_ids = [d.doc_id for d in upload.documents]
            stale_ids = set(_doc_ids_of_file(path)) | set(new_ids)
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
        if change.changed or not _index_is_current(settings):
            build_index(settings, embedder, lock_held=True)
    return _add_results(settings, uploads, statuses, previous, time.perf_counter() - started)


def _add_results(
    settings: Settings,
    uploads: list[Upload],
    statuses: dict[str, str],
    previous: ChunkStore | None,
    seconds: float,
) -> list[AddResult]:
    generation = current_generation(Path(settings.index_dir))
    store = ChunkStore.load(generation)
    known = {passage_text(c) for c in previous.chunks} if previous else set()
    results = []
    for upload in uploads:
        docs = [d for d in store.documents if d.source == upload.name]
        ids = {d.doc_id for d in docs}
        chunks = [c for c in store.chunks if c.doc_id in ids]
        embedded = len({passage_text(c) for c in chunks} - known)
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
                embedded=embedded,
                seconds=round(seconds, 3),
                generation=generation.name,
            )
        )
    return results


def remove_documents(
    settings: Settings, embedder: Embedder, doc_ids: list[str]
) -> list[RemoveResult]:
    """Remove articles by id and publish a new generation (all or nothing).

    A file whose last remaining article goes is deleted; otherwise the removal is
    recorded in the sidecar.
    """
    started = time.perf_counter()
    folder = Path(settings.source_dir)
    wanted_ids = list(dict.fromkeys(doc_ids))
    with corpus_change(settings) as change:
        documents = _folder_documents(settings)
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
            in_file = _doc_ids_of_file(folder / source)
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
        build_index(settings, embedder, lock_held=True)
    generation = current_generation(Path(settings.index_dir)).name
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


def _folder_documents(settings: Settings) -> dict[str, Document]:
    """The articles the folder holds now, by id: the live index's when it is up to date
    (no re-reading), else read from the folder."""
    if _index_is_current(settings):
        store = _live_store(Path(settings.index_dir))
        if store is not None:
            return {d.doc_id: d for d in store.documents}
    from rag.corpus import read_corpus

    return {d.doc_id: d for d in read_corpus(Path(settings.source_dir)).documents}


def list_documents(index_dir: Path) -> list[ListedDocument]:
    """The articles of the live index, with their stated place and date."""
    store = ChunkStore.load(current_generation(Path(index_dir)))
    return [
        ListedDocument(
            doc_id=d.doc_id,
            source=d.source,
            title=d.title,
            place=d.metadata.get("place", ""),
            date=d.metadata.get("date", ""),
            chunks=store.chunk_count(d.doc_id),
        )
        for d in store.documents
    ]
