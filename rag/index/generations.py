"""Atomic on-disk generations: readers see the old index or the new one, never half.

Layout: `index/CURRENT` names the live generation folder `index/gen-…/`. A writer fills
a hidden temporary folder, renames it to a new generation, then swaps CURRENT with an
atomic `os.replace`. A crash at any point leaves CURRENT pointing at a complete index;
leftovers are cleaned by the next write.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from rag.corpus.files import fsync_dir
from rag.errors import IndexStateError

POINTER = "CURRENT"
KEEP_PREVIOUS = 1  # generations kept besides the live one, for readers still using them


def current_generation(root: Path) -> Path:
    pointer = root / POINTER
    if not pointer.is_file():
        raise IndexStateError(f"no index in {root}: run `rag ingest` first")
    folder = root / pointer.read_text("utf-8").strip()
    if not folder.is_dir():
        raise IndexStateError(f"index pointer {pointer} names a missing folder {folder.name}")
    return folder


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())
    fsync_dir(folder)


@contextlib.contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """One writer at a time per index folder (across processes)."""
    with (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def publish(root: Path) -> Iterator[Path]:
    """Yield an empty folder to write an index into; make it the live generation only if
    the block succeeds. The caller holds `write_lock(root)`."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        final = root / f"gen-{stamp}-{uuid.uuid4().hex[:6]}"
        os.rename(tmp, final)
        pointer_tmp = root / f".{POINTER}.{uuid.uuid4().hex[:8]}"
        pointer_tmp.write_text(final.name, "utf-8")
        with pointer_tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(pointer_tmp, root / POINTER)
        fsync_dir(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    prune(root)


def prune(root: Path) -> None:
    """Remove temporary leftovers and generations older than the kept ones."""
    try:
        live = current_generation(root).name
    except IndexStateError:
        return
    for path in root.glob(".tmp-*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(f".{POINTER}.*"):
        path.unlink(missing_ok=True)
    # Names sort by creation time. One newer than the live generation was never made live
    # (a writer died between renaming it and swapping the pointer): an orphan, not the
    # previous generation, so it must not take the place of the one readers may still use.
    generations = sorted(p for p in root.glob("gen-*") if p.is_dir())
    older = [p for p in generations if p.name < live]
    orphans = [p for p in generations if p.name > live]
    for path in orphans + older[: max(len(older) - KEEP_PREVIOUS, 0)]:
        shutil.rmtree(path, ignore_errors=True)
