"""The machine's refusals, named: no space, a read-only or unwritable folder.

A corpus change writes the corpus folder (`RAG_SOURCE_DIR`) and then the index folder
(`RAG_INDEX_DIR`); either can be full, mounted read-only or not writable by the service's
user. Those failures arrive as an OSError (or, from FAISS, a RuntimeError quoting the
system's message); `storage_errors()` turns them into a `StorageError` that says what
failed, in which folder and which setting names it. The change itself is rolled back by
the caller (rag/documents/), so the message can say nothing was changed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from rag.config import Settings
from rag.errors import StorageError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# The errors that are about the machine, not about the request or the code.
STORAGE_ERRNOS = (*NO_SPACE, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG)
NOTHING_CHANGED = "nothing was changed: the corpus folder is as it was, the previous index live"


@contextlib.contextmanager
def storage_errors(settings: Settings) -> Iterator[None]:
    """Re-raise a failed write as a StorageError naming the folder and its setting."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in STORAGE_ERRNOS:
            raise
        raise storage_error(exc.errno, exc.strerror or str(exc), exc.filename, settings) from exc
    except RuntimeError as exc:  # FAISS: "write error in <path>: ... (No space left on device)"
        code = next((n for n in STORAGE_ERRNOS if os.strerror(n) in str(exc)), None)
        if code is None:
            raise
        raise storage_error(code, os.strerror(code), None, settings) from exc


def storage_error(code: int, cause: str, filename: object, settings: Settings) -> StorageError:
    folders = {
        "RAG_SOURCE_DIR": Path(settings.source_dir).resolve(),
        "RAG_INDEX_DIR": Path(settings.index_dir).resolve(),
    }
    setting = _folder_of(filename, folders) or _likely_folder(code, folders)
    folder = folders[setting]
    what = "corpus folder" if setting == "RAG_SOURCE_DIR" else "index folder"
    return StorageError(
        f"{cause.lower()}: cannot write the {what} {folder} ({setting}); {NOTHING_CHANGED}",
        folder=str(folder),
        setting=setting,
        no_space=code in NO_SPACE,
    )


def _folder_of(filename: object, folders: dict[str, Path]) -> str | None:
    """The setting whose folder holds `filename` (the index first: it may sit inside)."""
    if not isinstance(filename, str | Path) or not str(filename):
        return None
    path = Path(filename).resolve()
    for setting in ("RAG_INDEX_DIR", "RAG_SOURCE_DIR"):
        if path == folders[setting] or folders[setting] in path.parents:
            return setting
    return None


def _likely_folder(code: int, folders: dict[str, Path]) -> str:
    """Without a file name (a short write), the folder that shows the problem: the fuller
    disk, the read-only mount, the one this user cannot write; else the index folder."""

    def free(path: Path) -> int:
        with contextlib.suppress(OSError):
            return shutil.disk_usage(path).free
        return 0

    def read_only(path: Path) -> bool:
        with contextlib.suppress(OSError):
            return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
        return False

    if code in NO_SPACE:
        return min(folders, key=lambda s: (free(folders[s]), s != "RAG_INDEX_DIR"))
    for setting in ("RAG_INDEX_DIR", "RAG_SOURCE_DIR"):
        path = folders[setting]
        if read_only(path) or (path.exists() and not os.access(path, os.W_OK)):
            return setting
    return "RAG_INDEX_DIR"
