"""A journalled change to the corpus folder: back up, then write or delete; or restore.

Files about to be overwritten or deleted, and the sidecar, are copied into a hidden
backup folder first, with a journal of what existed. If anything fails before the new
index generation is live, `restore()` puts the folder back; a backup left by a crash is
resolved by the next writer (`recover_interrupted`). The caller holds the index's write
lock (rag/documents/), so two changes never interleave.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath

from rag.corpus.files import (
    SIDECAR,
    CorpusSidecar,
    corpus_checksum,
    fsync_dir,
    save_sidecar,
    write_atomic,
)
from rag.corpus.uploads import shown
from rag.errors import UploadError

BACKUP_PREFIX = ".rag-backup-"
JOURNAL = "journal.json"


class FolderChange:
    """Changes to the corpus folder, each preceded by a backup of what it replaces."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.backup = folder / f"{BACKUP_PREFIX}{uuid.uuid4().hex[:8]}"
        self.journal: dict[str, bool] = {}  # name -> existed before the change
        self.changed = False

    def _path(self, name: str) -> Path:
        path = self.folder / name
        if path.parent.resolve() != self.folder.resolve() or path.name != name:
            raise UploadError(f"file name {shown(name)} escapes the corpus folder")
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


def recover_interrupted(folder: Path, live_checksum: str | None) -> None:
    """Resolve backups left by a change that crashed: kept out of the way if the live
    index (`live_checksum`, None without one) already reflects the folder, else restored."""
    leftovers = sorted(p for p in folder.glob(f"{BACKUP_PREFIX}*") if p.is_dir())
    for backup in leftovers:
        if live_checksum is not None and live_checksum == corpus_checksum(folder):
            shutil.rmtree(backup, ignore_errors=True)
        else:
            restore_backup(folder, backup)
