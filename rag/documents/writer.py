"""The write lock every corpus writer holds, crash recovery, and the build.

Every writer (adding or removing articles, `rag ingest`, a stale index rebuilt at
start-up) holds the index's write lock across "resolve a change a crash interrupted,
change the folder, build a generation": two writers never interleave, in one process or
several.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from rag.config import Settings
from rag.corpus.changes import FolderChange, recover_interrupted
from rag.corpus.files import corpus_checksum
from rag.embedding import Embedder
from rag.errors import CorpusError, IndexStateError
from rag.index import BuildReport, IndexBundle, IndexConfig, Manifest, build_index, load_index
from rag.index.builder import stale_reasons
from rag.index.generations import current_generation, write_lock
from rag.storage import storage_errors

T = TypeVar("T")


def live(index_dir: Path, read: Callable[[Path], T]) -> T | None:
    """`read` of the live generation; None without a readable one."""
    try:
        return read(current_generation(index_dir))
    except (IndexStateError, OSError, ValueError):
        return None


def live_checksum(index_dir: Path) -> str | None:
    manifest = live(index_dir, Manifest.load)
    return manifest.corpus_checksum if manifest is not None else None


@contextlib.contextmanager
def writing(settings: Settings) -> Iterator[IndexConfig]:
    """Hold the write lock, with any change a crash interrupted resolved first. A full,
    read-only or unwritable folder is a StorageError naming it (rag/storage.py)."""
    config = IndexConfig.from_settings(settings)
    with storage_errors(settings):
        config.index_dir.mkdir(parents=True, exist_ok=True)
        with write_lock(config.index_dir):
            if config.source_dir.is_dir():
                recover_interrupted(config.source_dir, live_checksum(config.index_dir))
            yield config


@contextlib.contextmanager
def corpus_change(settings: Settings) -> Iterator[tuple[IndexConfig, FolderChange]]:
    """A folder change under the write lock; the folder is restored if the block fails."""
    if not Path(settings.source_dir).is_dir():
        raise CorpusError(f"source folder not found: {settings.source_dir}")
    with writing(settings) as config:
        change = FolderChange(config.source_dir)
        try:
            yield config, change
        except BaseException:
            change.restore()
            raise
        change.discard()


def recover(settings: Settings) -> None:
    """Resolve a change a crash interrupted now (every writer does it first anyway)."""
    with writing(settings):
        pass


def rebuild(settings: Settings, embedder: Embedder, *, progress: bool = False) -> BuildReport:
    """Build a new generation from the folder as it is (`rag ingest`)."""
    with writing(settings) as config:
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


def index_is_current(config: IndexConfig) -> bool:
    return live_checksum(config.index_dir) == corpus_checksum(config.source_dir)
